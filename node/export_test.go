package node

// Dialable is dialable, for the table test of address ranges.
var Dialable = dialable
