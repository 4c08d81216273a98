// Package criu will drive checkpoint and restore through CRIU. Nothing is
// implemented yet: it is the subject of a later issue.
package criu
