package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// compile builds the filter for p and writes its BPF to out.
func compile(p *specs.LinuxSeccomp, out *os.File) error {
	def, err := action(p.DefaultAction, p.DefaultErrnoRet, "linux.seccomp.defaultAction")
	if err != nil {
		return err
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return fmt.Errorf("new filter: %w", err)
	}
	defer f.Release()
	// gtu sets no_new_privs itself, as process.noNewPrivileges says.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return err
	}
	for i, a := range p.Architectures {
		arch, err := libseccomp.GetArchFromString(archName(a))
		if err != nil {
			return fmt.Errorf("linux.seccomp.architectures[%d] %q: %w", i, a, err)
		}
		if err := f.AddArch(arch); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("linux.seccomp.architectures[%d] %q: %w", i, a, err)
		}
	}
	for i, sc := range p.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		act, err := action(sc.Action, sc.ErrnoRet, field+".action")
		if err != nil {
			return err
		}
		if act == def {
			continue // libseccomp refuses a rule that repeats the default
		}
		conds, err := conditions(sc.Args, field)
		if err != nil {
			return err
		}
		for _, name := range sc.Names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown on this kernel or arch: skipped, as runc does
			}
			if err := addRule(f, nr, act, conds); err != nil {
				return fmt.Errorf("%s %s: %w", field, name, err)
			}
		}
	}
	if err := f.ExportBPF(out); err != nil {
		return fmt.Errorf("export BPF: %w", err)
	}
	return nil
}

// addRule adds one rule; conditions on the same argument are alternatives
// (libseccomp would AND them), so those go in as separate rules, as runc
// does.
func addRule(f *libseccomp.ScmpFilter, nr libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition) error {
	if len(conds) == 0 {
		return f.AddRule(nr, act)
	}
	seen := map[uint]bool{}
	sameArg := false
	for _, c := range conds {
		if seen[c.Argument] {
			sameArg = true
		}
		seen[c.Argument] = true
	}
	if !sameArg {
		return f.AddRuleConditional(nr, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

func conditions(args []specs.LinuxSeccompArg, field string) ([]libseccomp.ScmpCondition, error) {
	var out []libseccomp.ScmpCondition
	for j, a := range args {
		op, ok := operators[a.Op]
		if !ok {
			return nil, fmt.Errorf("%s.args[%d].op: unknown operator %q", field, j, a.Op)
		}
		if a.Index > 5 {
			return nil, fmt.Errorf("%s.args[%d].index: %d is not an argument (0-5)", field, j, a.Index)
		}
		values := []uint64{a.Value}
		if op == libseccomp.CompareMaskedEqual {
			values = append(values, a.ValueTwo) // mask, then value
		}
		c, err := libseccomp.MakeCondition(a.Index, op, values...)
		if err != nil {
			return nil, fmt.Errorf("%s.args[%d]: %w", field, j, err)
		}
		out = append(out, c)
	}
	return out, nil
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// action converts an OCI action; errno defaults to EPERM, as in runc.
func action(a specs.LinuxSeccompAction, errnoRet *uint, field string) (libseccomp.ScmpAction, error) {
	ret := int16(unix.EPERM)
	if errnoRet != nil {
		ret = int16(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return 0, fmt.Errorf("%s: unknown action %q", field, a)
}

// archName turns SCMP_ARCH_X86_64 into libseccomp-golang's "amd64" etc.
func archName(a specs.Arch) string {
	switch a {
	case specs.ArchX86_64:
		return "amd64"
	case specs.ArchX86:
		return "x86"
	case specs.ArchAARCH64:
		return "arm64"
	}
	return strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
}
