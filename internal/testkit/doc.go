// Package testkit is the one set of test helpers every package's tests use, so that a
// helper is written once and fixed once: waiting with named deadlines (Eventually,
// WaitShort/WaitMedium/WaitLong), a goroutine-safe Buffer for logs, one fake Clock, and the
// paths of the real components tests run against (CodeServer, KubebuilderAssets, Helm, …).
//
// It has no Kubernetes dependencies, so tests of the gateway, auth or wsinit do not link
// client-go; the envtest bootstrap and the Workspace builders live in testkit/kubetest.
package testkit
