package gateway

import "github.com/codehub-dev/codehub/internal/auth"

// safeNext returns next if it is a path on this gateway, otherwise "/": auth.LocalPath,
// the one local-redirect validator (providers' login URLs use it too).
func safeNext(next string) string { return auth.LocalPath(next) }
