// Package subid will parse /etc/subuid and /etc/subgid (by name and by uid,
// several ranges, comments, errors with line numbers) for rootless mode.
// Nothing is implemented yet: it is the subject of the rootless issue.
package subid
