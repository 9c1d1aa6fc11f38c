package main

deny contains msg if {
	input.kind == "Deployment"
	count(undefined_thing) > 0
}
