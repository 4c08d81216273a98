// Package slirp will hold the rootless network drivers (slirp4netns, pasta)
// and port forwarding. Nothing is implemented yet: it is the subject of the
// rootless issue.
package slirp
