// Package testenv is the old name of testkit's component locators, kept only so that
// branches written before the move still compile when merged.
//
// Deprecated: use github.com/codehub-dev/codehub/internal/testkit.
package testenv

import "github.com/codehub-dev/codehub/internal/testkit"

// Each is testkit's function of the same name.
var (
	SkipInShort        = testkit.SkipInShort
	CodeServer         = testkit.CodeServer
	Chromium           = testkit.Chromium
	KubebuilderAssets  = testkit.KubebuilderAssets
	Helm               = testkit.Helm
	RepoRoot           = testkit.RepoRoot
	TraversableTempDir = testkit.TraversableTempDir
	Images             = testkit.Images
	ContainersEnv      = testkit.ContainersEnv
)
