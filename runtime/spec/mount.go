package spec

import (
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountFlag is one mount(8) option that sets or clears a mount(2) flag.
type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlags are the options mount(8) and runc turn into mount(2) flags.
// Options are applied in order, so "ro,rw" ends read-write, as with mount(8).
var mountFlags = map[string]mountFlag{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW}, // Linux 5.10
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationFlags change a mount's propagation type. mount(2) takes them in
// a separate call from the mount itself, one type per call.
var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recAttrFlags are the recursive options of the runtime spec (1.1), applied
// with mount_setattr(2) and AT_RECURSIVE: mount(2) flags on a bind mount only
// reach its top mount, so "ro" leaves submounts of an rbind writable.
var recAttrFlags = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW}, // Linux 5.14
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// idmapOptions ask for idmapped mounts (runtime-spec 1.2), not supported yet.
var idmapOptions = []string{"idmap", "ridmap"}

// mountOptionNames lists every option gtu recognizes, for Features.
func mountOptionNames() []string {
	var names []string
	for n := range mountFlags {
		names = append(names, n)
	}
	for n := range propagationFlags {
		names = append(names, n)
	}
	for n := range recAttrFlags {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// isBind reports whether config.json asks for a bind mount: runc treats the
// type "bind" and the options bind/rbind alike.
func isBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// convertMount turns one config.json mount into mount(2) arguments. bundle
// must be absolute: a relative bind source is relative to the bundle, as in
// runc, which runs from the bundle directory.
func convertMount(m specs.Mount, bundle string) Mount {
	out := Mount{Source: m.Source, Destination: m.Destination, Type: m.Type}
	var data []string
	for _, o := range m.Options {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				out.Flags &^= f.flag
			} else {
				out.Flags |= f.flag
			}
			continue
		}
		if f, ok := propagationFlags[o]; ok {
			out.Propagation = append(out.Propagation, f)
			continue
		}
		if f, ok := recAttrFlags[o]; ok {
			if f.clear {
				out.AttrClr |= f.attr
				continue
			}
			out.AttrSet |= f.attr
			// mount_setattr(2): an access-time mode is a value, not a bit;
			// setting one requires MOUNT_ATTR__ATIME in attr_clr.
			if f.attr&unix.MOUNT_ATTR__ATIME == f.attr {
				out.AttrClr |= unix.MOUNT_ATTR__ATIME
			}
			continue
		}
		data = append(data, o)
	}
	out.Data = strings.Join(data, ",")
	if m.Type == "bind" {
		out.Flags |= unix.MS_BIND
	}
	if out.IsBind() {
		// mount(2) ignores the type of a bind mount; say so plainly for
		// the executor, as runc does.
		out.Type = "bind"
		if !filepath.IsAbs(out.Source) {
			out.Source = filepath.Join(bundle, out.Source)
		}
	}
	return out
}

// validateMounts checks the mounts array. Whether idmapped mounts can be
// done is Build's question, not a validity one.
func validateMounts(p *problems, mounts []specs.Mount) {
	for i, m := range mounts {
		field := at("mounts", i)
		if !filepath.IsAbs(m.Destination) {
			p.add(field+".destination", "must be absolute")
		}
		bind := isBind(m)
		switch {
		case bind && m.Source == "":
			p.add(field+".source", "required for a bind mount")
		case !bind && m.Type == "":
			p.add(field+".type", "required unless the mount is a bind mount")
		case !validFSType(m.Type):
			p.add(field+".type", "invalid filesystem type %q", m.Type)
		}
		for j, o := range m.Options {
			if strings.TrimSpace(o) == "" || strings.ContainsAny(o, ",\x00") {
				p.add(at(field+".options", j), "invalid option %q", o)
			}
		}
	}
}

// validFSType accepts the names /proc/filesystems can hold, including
// subtypes like "fuse.sshfs"; anything else would only fail in mount(2).
func validFSType(t string) bool {
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return true
}
