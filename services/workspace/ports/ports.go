// Package ports lists the TCP ports listening inside the workspace, read
// from the kernel's socket tables (/proc/net/tcp and tcp6) of the
// container's network namespace: what a dev server, a notebook or an
// agent's preview opened, whoever started it.
package ports

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Port is one listening socket.
type Port struct {
	Port    uint16 `json:"port"`
	Address string `json:"address"`
	// Loopback is true when only the workspace itself can reach it.
	Loopback bool `json:"loopback"`
}

// listen is the state column's value of a listening socket (TCP_LISTEN).
const listen = "0A"

// Listening reads the tables under procNet (normally /proc/net) and returns
// every listening socket, sorted by port then address. A missing table
// (no IPv6) is skipped.
func Listening(procNet string) ([]Port, error) {
	var out []Port
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(procNet + "/" + name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ps, err := Parse(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", procNet, name, err)
		}
		out = append(out, ps...)
	}
	slices.SortFunc(out, func(a, b Port) int {
		if a.Port != b.Port {
			return int(a.Port) - int(b.Port)
		}
		return strings.Compare(a.Address, b.Address)
	})
	return slices.Compact(out), nil
}

// Parse reads one table in the kernel's format and returns its listening
// sockets.
func Parse(r io.Reader) ([]Port, error) {
	var out []Port
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		fields := strings.Fields(sc.Text())
		if first || len(fields) < 4 || fields[3] != listen {
			continue // the header, or a socket that is not listening
		}
		addr, err := parseAddr(fields[1])
		if err != nil {
			return nil, err
		}
		out = append(out, Port{Port: addr.Port(), Address: addr.Addr().String(), Loopback: addr.Addr().IsLoopback()})
	}
	return out, sc.Err()
}

// parseAddr reads "0100007F:1F90": the address as the kernel stores it (in
// 32-bit words of host byte order, little-endian here) and the port in hex.
func parseAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad local address %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad local address %q", s)
	}
	for i := 0; i < len(raw); i += 4 { // each 32-bit word is little-endian
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}
