// Package nocilium holds the workspace-operator tests that need an API server
// without Cilium's CRD at start-up; they run against an envtest of their own.
package nocilium
