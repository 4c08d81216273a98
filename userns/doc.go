// Package userns will build the full rootless id mapping, write it with
// newuidmap/newgidmap, and keep the per-user session namespace. Nothing is
// implemented yet: it is the subject of the rootless issue.
package userns
