package bus

// This file says what each service may do on NATS: its user's publish and
// subscribe allow lists, and which JetStream objects it keeps. The chart
// renders its NATS users from these lists (`go run ./pkg/bus/gen` writes
// deploy/helm/aileron/files/nats-permissions.json; a test fails on drift), so
// a renamed bucket, stream, subject or consumer renames its permission too.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/nats-io/nats-server/v2/server"

	"aileron.dev/pkg/event"
)

// Durable consumers on StreamName, one per consuming service. Each service's
// user may create, read and ack only its own.
const (
	// ConsumerOrchestratorStatus reads provisioner and firewall status reports.
	ConsumerOrchestratorStatus = "orchestrator-status"
	// ConsumerFirewall reads workspace events to recompute policies.
	ConsumerFirewall = "firewall-policy"
	// ConsumerDockerProvisioner reads docker workspace events and policies.
	ConsumerDockerProvisioner = "docker-provisioner-events"
	// ConsumerK8sProvisioner reads kubernetes workspace events.
	ConsumerK8sProvisioner = "k8s-provisioner-events"
)

// Keys of BucketSecrets. A user reads and writes only the keys it needs.
const (
	// SecretFrontDoor is the front door's key (pkg/frontdoor): the api signs
	// with it, the docker provisioner derives each gateway's ingress secret.
	SecretFrontDoor = "front-door"
	// SecretDockerInstance is the docker provisioner's installation id.
	SecretDockerInstance = "docker-instance"
)

// KVStream is the stream that holds a key-value bucket.
func KVStream(bucket string) string { return "KV_" + bucket }

// Permissions are the subjects a NATS user may publish and subscribe to
// (nats-server's permissions { publish { allow } subscribe { allow } }).
type Permissions struct {
	Publish   []string `json:"publish"`
	Subscribe []string `json:"subscribe"`
}

// Role is one service's identity on NATS.
type Role struct {
	// User is the NATS user name; the client name is "aileron-" + User.
	User string
	// Manage lists the streams (KVStream for a bucket) whose configuration
	// this service keeps: created or updated at start-up.
	Manage []string
	// Use lists the other streams it needs: created with the defaults when
	// missing (whoever starts first), never updated.
	Use []string
	// grants are what it does with them.
	grants []grant
}

// grant is one capability, as subjects.
type grant struct{ pub, sub []string }

// ClientName is the connection name the service shows in NATS monitoring.
func (r Role) ClientName() string { return "aileron-" + r.User }

// InboxPrefix is where the service's replies arrive: its own, so no other
// user may subscribe to its answers (KV reads of secrets, for one). It stays
// under _INBOX. so that a NATS user that allows _INBOX.> still works.
func (r Role) InboxPrefix() string { return "_INBOX." + r.User }

// Permissions are r's allow lists, sorted and without duplicates.
func (r Role) Permissions() Permissions {
	var p Permissions
	add := func(g grant) {
		p.Publish = append(p.Publish, g.pub...)
		p.Subscribe = append(p.Subscribe, g.sub...)
	}
	add(grant{sub: []string{r.InboxPrefix() + ".>"}})
	for _, s := range r.Manage {
		add(streamAPI(s, true))
	}
	for _, s := range r.Use {
		add(streamAPI(s, false))
	}
	for _, g := range r.grants {
		add(g)
	}
	slices.Sort(p.Publish)
	slices.Sort(p.Subscribe)
	p.Publish, p.Subscribe = slices.Compact(p.Publish), slices.Compact(p.Subscribe)
	return p
}

// manages reports whether setup may update stream's configuration; uses
// whether it may create it when missing. A nil role manages everything.
func (r *Role) manages(stream string) bool { return r == nil || slices.Contains(r.Manage, stream) }
func (r *Role) uses(stream string) bool    { return r.manages(stream) || slices.Contains(r.Use, stream) }

const api = "$JS.API."

// streamAPI lets a service look a stream up and create it; manage lets it
// change its configuration too. Creating a stream that exists with another
// configuration fails, so create alone cannot alter someone else's. The
// account's JetStream info (limits and usage) is read before creating a
// bucket.
func streamAPI(stream string, manage bool) grant {
	g := grant{pub: []string{api + "INFO", api + "STREAM.INFO." + stream, api + "STREAM.CREATE." + stream}}
	if manage {
		g.pub = append(g.pub, api+"STREAM.UPDATE."+stream)
	}
	return g
}

// publish lets a service publish to subjects of a stream (JetStream answers
// on the inbox).
func publish(subjects ...string) grant { return grant{pub: subjects} }

// consumer lets a service create, inspect, pull from and ack its own
// durable consumer of stream, and no other.
func consumer(stream, durable string) grant {
	c := stream + "." + durable
	return grant{pub: []string{
		api + "CONSUMER.CREATE." + c, api + "CONSUMER.CREATE." + c + ".>",
		api + "CONSUMER.INFO." + c, api + "CONSUMER.MSG.NEXT." + c,
		"$JS.ACK." + c + ".>",
	}}
}

// readStream lets a service read single messages of stream.
func readStream(stream string) grant {
	return grant{pub: []string{api + "STREAM.MSG.GET." + stream, api + "DIRECT.GET." + stream, api + "DIRECT.GET." + stream + ".>"}}
}

// readBucket lets a service get any key of bucket and watch or list it
// (a watch is an ordered consumer with flow control).
func readBucket(bucket string) grant {
	s := KVStream(bucket)
	g := readStream(s)
	g.pub = append(g.pub, api+"CONSUMER.CREATE."+s+".>", api+"CONSUMER.DELETE."+s+".>",
		api+"CONSUMER.INFO."+s+".>", "$JS.FC."+s+".>")
	return g
}

// writeBucket lets a service put, update, delete and purge any key of bucket.
func writeBucket(bucket string) grant { return grant{pub: []string{"$KV." + bucket + ".>"}} }

// secret lets a service read and create one key of BucketSecrets, and no
// other key: a direct get names the key in its subject.
func secret(key string) grant {
	return grant{pub: []string{
		api + "DIRECT.GET." + KVStream(BucketSecrets) + ".$KV." + BucketSecrets + "." + key,
		"$KV." + BucketSecrets + "." + key,
	}}
}

// The services' roles. The api (gateway and orchestrator, internet-facing)
// writes workspace records and workspace events but cannot write a firewall
// policy, a status report or another secret; the firewall alone writes the
// firewall bucket and policies; provisioners only report status.
var (
	// RoleAPI is services/api: the gateway and the orchestrator.
	RoleAPI = Role{
		User:   "api",
		Manage: []string{StreamName, AuditStreamName, KVStream(BucketWorkspaces), KVStream(BucketSecrets)},
		grants: []grant{
			publish(event.AllWorkspacesFilter, event.AuditFilter),
			consumer(StreamName, ConsumerOrchestratorStatus),
			readStream(StreamName), // was an event published (the outbox)?
			readBucket(BucketWorkspaces), writeBucket(BucketWorkspaces),
			secret(SecretFrontDoor),
		},
	}
	// RoleFirewall is services/firewall's policy service.
	RoleFirewall = Role{
		User:   "firewall",
		Manage: []string{KVStream(BucketFirewall)},
		Use:    []string{StreamName, KVStream(BucketWorkspaces)},
		grants: []grant{
			publish(event.FirewallPolicySubject("*", "*"), event.FirewallStatusSubject("*")),
			consumer(StreamName, ConsumerFirewall),
			readBucket(BucketWorkspaces),
			readBucket(BucketFirewall), writeBucket(BucketFirewall),
		},
	}
	// RoleDockerProvisioner is services/docker-provisioner.
	RoleDockerProvisioner = Role{
		User: "docker-provisioner",
		Use:  []string{StreamName, KVStream(BucketWorkspaces), KVStream(BucketFirewall), KVStream(BucketSecrets)},
		grants: []grant{
			publish(event.StatusSubject("*"), event.FirewallStatusSubject("*")),
			consumer(StreamName, ConsumerDockerProvisioner),
			readBucket(BucketWorkspaces),
			readBucket(BucketFirewall),
			secret(SecretFrontDoor), secret(SecretDockerInstance),
		},
	}
	// RoleK8sProvisioner is services/k8s-provisioner's event consumer (the
	// workspace operator does not use NATS).
	RoleK8sProvisioner = Role{
		User: "k8s-provisioner",
		Use:  []string{StreamName, KVStream(BucketWorkspaces)},
		grants: []grant{
			publish(event.StatusSubject("*"), event.FirewallStatusSubject("*")),
			consumer(StreamName, ConsumerK8sProvisioner),
			readBucket(BucketWorkspaces),
		},
	}
)

// Roles are every service's role, by user name.
func Roles() []Role {
	return []Role{RoleAPI, RoleFirewall, RoleDockerProvisioner, RoleK8sProvisioner}
}

// ServerUser is role's user of a nats-server configured in Go (StartEmbedded,
// tests): the chart renders the same lists into nats.conf.
func ServerUser(role Role, password string) *server.User {
	p := role.Permissions()
	return &server.User{Username: role.User, Password: password, Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
	}}
}

// ChartPermissionsFile is the chart's copy of the roles' permissions,
// relative to the repository root.
const ChartPermissionsFile = "deploy/helm/aileron/files/nats-permissions.json"

// ChartPermissions renders every role's permissions, by user, as the chart
// reads them (ChartPermissionsFile).
func ChartPermissions() ([]byte, error) {
	doc := struct {
		Comment string                 `json:"comment"`
		Users   map[string]Permissions `json:"users"`
	}{Comment: "Generated by `go run ./pkg/bus/gen` (make generate) from pkg/bus/permission.go. DO NOT EDIT.", Users: map[string]Permissions{}}
	for _, r := range Roles() {
		doc.Users[r.User] = r.Permissions()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // ">" as itself: the file is read by people too
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render nats permissions: %w", err)
	}
	return b.Bytes(), nil
}
