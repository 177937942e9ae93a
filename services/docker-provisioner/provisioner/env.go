package provisioner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "AILERON_DOCKER_"

// envSetter parses one environment value into the config.
type envSetter func(c *Config, v string) error

func setString(f func(*Config) *string) envSetter {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func setInt(f func(*Config) *int) envSetter {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		*f(c) = n
		return err
	}
}

func setInt64(f func(*Config) *int64) envSetter {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		*f(c) = n
		return err
	}
}

func setFloat(f func(*Config) *float64) envSetter {
	return func(c *Config, v string) error {
		n, err := strconv.ParseFloat(v, 64)
		*f(c) = n
		return err
	}
}

func setBool(f func(*Config) *bool) envSetter {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		*f(c) = b
		return err
	}
}

func setDuration(f func(*Config) *Duration) envSetter {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		*f(c) = Duration(d)
		return err
	}
}

// envSetters lists every override, keyed by the name after EnvPrefix.
func envSetters() map[string]envSetter {
	m := map[string]envSetter{
		"INSTANCE":        setString(func(c *Config) *string { return &c.Instance }),
		"INGRESS_HOST":    setString(func(c *Config) *string { return &c.IngressHost }),
		"ENDPOINT_HOST":   setString(func(c *Config) *string { return &c.EndpointHost }),
		"PROBE_HOST":      setString(func(c *Config) *string { return &c.ProbeHost }),
		"SUBNET_POOL":     setString(func(c *Config) *string { return &c.SubnetPool }),
		"SUBNET_BITS":     setInt(func(c *Config) *int { return &c.SubnetBits }),
		"OUTSIDE_NETWORK": setString(func(c *Config) *string { return &c.OutsideNetwork }),
		"DNS_MITIGATION":  setString(func(c *Config) *string { return &c.DNSMitigation }),
		"WORKERS":         setInt(func(c *Config) *int { return &c.Workers }),
		"RESYNC_INTERVAL": setDuration(func(c *Config) *Duration { return &c.ResyncInterval }),
		"SWEEP_INTERVAL":  setDuration(func(c *Config) *Duration { return &c.SweepInterval }),
		"SWEEP_GRACE":     setDuration(func(c *Config) *Duration { return &c.SweepGrace }),
		"SWEEP_DRY_RUN":   setBool(func(c *Config) *bool { return &c.SweepDryRun }),
		"STOP_TIMEOUT":    setDuration(func(c *Config) *Duration { return &c.StopTimeout }),
		"DOCKER_TIMEOUT":  setDuration(func(c *Config) *Duration { return &c.DockerTimeout }),
		"PULL_TIMEOUT":    setDuration(func(c *Config) *Duration { return &c.PullTimeout }),
		"HEALTH_TIMEOUT":  setDuration(func(c *Config) *Duration { return &c.HealthTimeout }),
		"CRASH_LIMIT":     setInt(func(c *Config) *int { return &c.CrashLimit }),
		"CRASH_WINDOW":    setDuration(func(c *Config) *Duration { return &c.CrashWindow }),
		"GATEWAY_IMAGE":   setString(func(c *Config) *string { return &c.Gateway.Image }),
		"GATEWAY_DNS":     setString(func(c *Config) *string { return &c.Gateway.UpstreamDNS }),
	}
	for _, name := range ServiceNames {
		svc := func(c *Config) *ServiceConfig { return c.Services.Get(name) }
		p := strings.ToUpper(name) + "_"
		m[p+"IMAGE"] = setString(func(c *Config) *string { return &svc(c).Image })
		m[p+"PORT"] = setInt(func(c *Config) *int { return &svc(c).Port })
		m[p+"CPUS"] = setFloat(func(c *Config) *float64 { return &svc(c).CPUs })
		m[p+"MEMORY_MB"] = setInt64(func(c *Config) *int64 { return &svc(c).MemoryMB })
		m[p+"PIDS"] = setInt64(func(c *Config) *int64 { return &svc(c).Pids })
		m[p+"READ_ONLY_ROOTFS"] = setBool(func(c *Config) *bool { return &svc(c).ReadOnlyRootfs })
		m[p+"HEALTH_PATH"] = setString(func(c *Config) *string { return &svc(c).HealthPath })
	}
	return m
}

// EnvNames lists every recognised environment variable, for documentation.
func EnvNames() []string {
	var out []string
	for k := range envSetters() {
		out = append(out, EnvPrefix+k)
	}
	return out
}

// ApplyEnv overrides fields from AILERON_DOCKER_* variables read with getenv
// (os.Getenv in main). A value that does not parse is an error naming it.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	var errs []error
	for k, set := range envSetters() {
		v := getenv(EnvPrefix + k)
		if v == "" {
			continue
		}
		if err := set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s%s=%q: %w", EnvPrefix, k, v, err))
		}
	}
	return errors.Join(errs...)
}
