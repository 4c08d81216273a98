package main

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

func TestAction(t *testing.T) {
	e := uint(5)
	for _, tt := range []struct {
		in   specs.LinuxSeccompAction
		ret  *uint
		want libseccomp.ScmpAction
	}{
		{specs.ActKill, nil, libseccomp.ActKillThread},
		{specs.ActKillThread, nil, libseccomp.ActKillThread},
		{specs.ActKillProcess, nil, libseccomp.ActKillProcess},
		{specs.ActTrap, nil, libseccomp.ActTrap},
		{specs.ActErrno, nil, libseccomp.ActErrno.SetReturnCode(1)},
		{specs.ActErrno, &e, libseccomp.ActErrno.SetReturnCode(5)},
		{specs.ActTrace, nil, libseccomp.ActTrace.SetReturnCode(1)},
		{specs.ActAllow, nil, libseccomp.ActAllow},
		{specs.ActLog, nil, libseccomp.ActLog},
		{specs.ActNotify, nil, libseccomp.ActNotify},
	} {
		got, err := action(tt.in, tt.ret, "f")
		if err != nil || got != tt.want {
			t.Errorf("action(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []specs.LinuxSeccompAction{"SCMP_ACT_NOPE"} {
		if _, err := action(bad, nil, "linux.seccomp.x"); err == nil || !strings.Contains(err.Error(), "linux.seccomp.x") {
			t.Errorf("action(%s): %v", bad, err)
		}
	}
}

func TestArchName(t *testing.T) {
	for in, want := range map[specs.Arch]string{
		specs.ArchX86_64: "amd64", specs.ArchX86: "x86", specs.ArchX32: "x32",
		specs.ArchAARCH64: "arm64", specs.ArchARM: "arm", specs.ArchS390X: "s390x",
	} {
		if got := archName(in); got != want {
			t.Errorf("archName(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestConditions(t *testing.T) {
	c, err := conditions([]specs.LinuxSeccompArg{
		{Index: 1, Value: 7, Op: specs.OpEqualTo},
		{Index: 2, Value: 0xf0, ValueTwo: 0x10, Op: specs.OpMaskedEqual},
	}, "f")
	if err != nil || len(c) != 2 || c[0].Argument != 1 || c[1].Operand1 != 0xf0 || c[1].Operand2 != 0x10 {
		t.Fatalf("conditions = %+v, %v", c, err)
	}
	if _, err := conditions([]specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}, "f"); err == nil {
		t.Error("index 6 accepted")
	}
}
