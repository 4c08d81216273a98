// Package subid reads the subordinate id ranges a user may map into a user
// namespace: /etc/subuid and /etc/subgid (by user name or by uid, several
// ranges, comments), or the output of getsubids(1) when the host provides
// it (it also answers for ranges served by an NSS subid backend). It is
// pure apart from the two lookups that read a file or run getsubids, and it
// imports nothing of gtu's.
package subid
