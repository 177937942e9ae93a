package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nats-io/nats.go"

	"aileron.dev/pkg/bus"
)

// natsURLFile, in the data directory, holds the URL with the token of the
// embedded NATS when --nats-port opens a listener.
const natsURLFile = "nats.url"

// devNATS is the running embedded NATS server of `aileron dev`.
type devNATS struct {
	// url and opts connect a client of this process.
	url  string
	opts []nats.Option
	// listen is the TCP address, "" when there is no listener.
	listen string
	stop   func()
}

// startNATS starts the embedded NATS server of `aileron dev`. By default it
// opens no TCP port: the services of this process connect in-process, so no
// other local user can read or write workspace records through it. A
// --nats-port opens a listener for outside consumers (docs/events.md) that
// requires a token, generated at every start and written owner-only to
// <data-dir>/nats.url.
func startNATS(cfg devConfig, log *slog.Logger) (*devNATS, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	urlFile := filepath.Join(cfg.DataDir, natsURLFile)
	// A previous run's token is void; never leave it lying around.
	if err := os.Remove(urlFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove %s: %w", urlFile, err)
	}
	ec := bus.EmbeddedConfig{StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Sync: cfg.NATSSync, InProcess: cfg.NATSPort == 0}
	if !ec.InProcess {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		ec.Host, ec.Port, ec.Token = cfg.NATSHost, cfg.NATSPort, hex.EncodeToString(b)
	}
	ns, err := bus.StartEmbedded(ec)
	if err != nil {
		return nil, err
	}
	d := &devNATS{url: ns.ClientURL(), opts: []nats.Option{nats.InProcessServer(ns)},
		stop: func() { ns.Shutdown(); ns.WaitForShutdown() }}
	if ec.InProcess {
		log.Info("embedded nats started (in-process only, no TCP listener)", "store", cfg.DataDir, "sync", cfg.NATSSync)
		return d, nil
	}
	d.opts = append(d.opts, nats.Token(ec.Token))
	addr, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		d.stop()
		return nil, errors.New("embedded nats has no TCP address")
	}
	d.listen = net.JoinHostPort(cfg.NATSHost, strconv.Itoa(addr.Port))
	u := url.URL{Scheme: "nats", User: url.User(ec.Token), Host: d.listen}
	if err := os.WriteFile(urlFile, []byte(u.String()+"\n"), 0o600); err != nil {
		d.stop()
		return nil, fmt.Errorf("write %s: %w", urlFile, err)
	}
	log.Info("embedded nats started", "listen", d.listen, "url_file", urlFile, "store", cfg.DataDir, "sync", cfg.NATSSync)
	return d, nil
}
