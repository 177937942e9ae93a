package bus

import "github.com/nats-io/nats.go"

// CredsOption returns the NATS option for a credentials file ("" for none).
func CredsOption(path string) []nats.Option {
	if path == "" {
		return nil
	}
	return []nats.Option{nats.UserCredentials(path)}
}
