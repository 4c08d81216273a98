// Package userns builds and writes the id maps of a rootless container and
// will keep the per-user session namespace. So far it holds the pure part:
// the mapping itself (Build). It may use package subid's types and nothing
// else of gtu's.
package userns
