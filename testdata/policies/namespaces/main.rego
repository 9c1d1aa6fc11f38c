package main

deny contains msg if {
	input.kind == "Secret"
	msg := "Secrets are managed elsewhere"
}
