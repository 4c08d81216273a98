// Package exeseal gives the init stage an image of its executable (gtu-init) that a
// container cannot write to (CVE-2019-5736).
//
// gtu starts the container's init stage by executing gtu-init. While that
// process runs inside the container's namespaces, any process of the
// container that may ptrace-read it can open /proc/PID/exe, which is a magic
// link to the host's gtu binary. Opened for writing, it lets the container
// replace gtu on the host, and the next `gtu` run by the host's root runs the
// attacker's code outside any container. Checking paths does not help: the
// magic link bypasses the container's mount namespace.
//
// The defence is to never exec the host binary inside the container's reach:
// the init stage runs from a file whose contents cannot change. Two methods,
// cheapest first:
//
//  1. A private overlayfs with only lower layers (the binary's directory and
//     an empty tmpfs), made with fsopen/fsconfig/fsmount and never attached
//     to any mount namespace. An overlay without an upper layer has a
//     read-only superblock, so no mount flag can be flipped to make it
//     writable, and the file shares the page cache with the real binary:
//     nothing is copied.
//  2. A memfd copy of /proc/self/exe, sealed against writing, growing,
//     shrinking and further sealing (F_SEAL_*). It needs no privilege but
//     copies the whole binary on every start.
//
// Protection is skipped when it cannot matter: a caller that is not root in
// the initial user namespace and cannot write the binary itself hands the
// container no more than its own credentials, so the container cannot write
// it either. A binary the caller owns (say ~/go/bin/gtu used for rootless
// containers) is still protected: the container's root maps to the caller
// and could rewrite it, and the user would run the attacker's code on the
// next start.
//
// To run the init stage, pass the file from OpenPath to Apply, which sets
// exec.Cmd.Path to the file's /proc/self/fd entry as the child will see it.
package exeseal
