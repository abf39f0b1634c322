// Package events is the engine's outbox: every change writes its event in the same
// transaction as the change, numbered per member without gaps, and readable as one
// feed whose positions a consumer can resume from without missing an event that
// commits later (docs/EVENTS.md). Writers are the domains (the ledger queues its
// events in the write step of its batch, under its members' locks); readers are the
// pull feed of the API and the webhook dispatcher.
//
// It is a helper of the domains: it imports none of them, and knows no transport.
package events
