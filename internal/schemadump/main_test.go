package main

import "testing"

// The committed file must not change with the pg_dump release or from run to run:
// the lines that do are dropped, and the gaps they leave squeezed.
func TestNormalizeDropsReleaseDependentLines(t *testing.T) {
	dump := "--\n-- PostgreSQL database dump\n--\n\n" +
		`\restrict aBcD1234` + "\n\n" +
		"-- Dumped from database version 15.20\n-- Dumped by pg_dump version 15.20\n\n" +
		"SET statement_timeout = 0;\nSET transaction_timeout = 0;\n" +
		"SELECT pg_catalog.set_config('search_path', '', false);\n\n\n" +
		"CREATE TABLE public.t (\n    id bigint\n);\n\n" +
		`\unrestrict aBcD1234` + "\n\n"
	want := "--\n-- PostgreSQL database dump\n--\n\n" +
		"CREATE TABLE public.t (\n    id bigint\n);\n"
	if got := string(normalize([]byte(dump))); got != want {
		t.Fatalf("normalize:\n%s\nwant:\n%s", got, want)
	}
}
