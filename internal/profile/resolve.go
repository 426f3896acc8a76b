package profile

import (
	"fmt"
	"strings"
)

// Resolve picks the profile a start uses. recorded is the profile the workspace was last
// given ("" = none yet); groups and admin are the owner's. checked means the caller (an
// admin acting for the owner, who does not know the owner's groups) has already allowed
// recorded. A recorded profile that no longer exists, or that the owner may no longer use
// (their groups changed, or the profile's did), falls back to the owner's default, and
// notice says so in words for the user. ok is false when no profile at all is open to the
// owner.
func (c *Catalog) Resolve(recorded string, groups []string, admin, checked bool) (p Profile, notice string, ok bool) {
	if recorded != "" {
		got, exists := c.Get(recorded)
		switch {
		case exists && (checked || got.Allows(groups, admin)):
			return got, "", true
		case exists:
			notice = fmt.Sprintf("The profile %q is open to the groups %s only, and you are no longer in one of them", recorded, strings.Join(got.Groups, ", "))
		default:
			notice = fmt.Sprintf("The profile %q no longer exists", recorded)
		}
	}
	p, ok = c.DefaultFor(groups, admin)
	if !ok {
		return Profile{}, notice, false
	}
	if notice != "" {
		notice += fmt.Sprintf("; this start uses %q.", p.Name)
	}
	return p, notice, true
}

// Ignored lists the fields of p a backend cannot apply: for the local backend, the
// Kubernetes-only ones; none for Kubernetes.
func (p Profile) Ignored(backendName string) []string {
	if backendName == "local" {
		return p.KubernetesOnly()
	}
	return nil
}
