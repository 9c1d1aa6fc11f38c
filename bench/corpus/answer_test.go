package corpus

import (
	"errors"
	"testing"
)

func TestReadAnswer(t *testing.T) {
	const uid = "u-1"
	cases := []struct {
		name, body string
		want       Verdict
		refused    bool
		err        error
	}{
		{"allowed", `{"response":{"uid":"u-1","allowed":true}}`, Allowed, false, nil},
		{"denied", `{"response":{"uid":"u-1","allowed":false,"status":{"code":403}}}`, Denied, false, nil},
		{"patched", `{"response":{"uid":"u-1","allowed":true,"patch":"W10="}}`, Patched, false, nil},
		{"refused", `{"response":{"uid":"u-1","allowed":false,"status":{"code":429}}}`, 0, true, nil},
		{"webhook error", `{"response":{"uid":"u-1","allowed":false,"status":{"code":500}}}`, 0, false, ErrWebhook},
		{"another request", `{"response":{"uid":"u-2","allowed":true}}`, 0, false, ErrWrongUID},
		{"no response", `{"request":{"uid":"u-1"}}`, 0, false, ErrUndecodable},
		{"not JSON", `<html>`, 0, false, ErrUndecodable},
	}
	for _, c := range cases {
		got, err := ReadAnswer([]byte(c.body), uid)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			continue
		}
		if err == nil && (got.Verdict != c.want || got.Refused != c.refused) {
			t.Errorf("%s: %+v, want verdict %s, refused %v", c.name, got, c.want, c.refused)
		}
	}
}
