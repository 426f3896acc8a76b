package testnode

import (
	"context"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t *testing.T, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 42, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	q, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// The stand-in answers Service names with their ClusterIP and nothing else: no name outside
// the cluster ever resolves (nothing is forwarded).
func TestClusterDNSAnswers(t *testing.T) {
	d := &clusterDNS{lookup: func(_ context.Context, ns, name string) (netip.Addr, bool, error) {
		if ns == "default-tenant" && name == "codehub-alice" {
			return netip.MustParseAddr("10.214.0.42"), true, nil
		}
		return netip.Addr{}, false, nil
	}}
	for _, c := range []struct {
		name  string
		typ   dnsmessage.Type
		rcode dnsmessage.RCode
		a     string
	}{
		{"codehub-alice.default-tenant.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "10.214.0.42"},
		{"CODEHUB-ALICE.default-tenant.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "10.214.0.42"},
		{"codehub-alice.default-tenant.svc.cluster.local.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, ""},
		{"codehub-bob.default-tenant.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, ""},
		{"codehub-alice.default-tenant.svc.default-tenant.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, ""},
		{"open-vsx.org.", dnsmessage.TypeA, dnsmessage.RCodeNameError, ""},
		{"open-vsx.org.default-tenant.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, ""},
	} {
		resp := d.answer(context.Background(), query(t, c.name, c.typ))
		var m dnsmessage.Message
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if m.Header.ID != 42 || !m.Header.Response || m.Header.RCode != c.rcode {
			t.Errorf("%s %v: header %+v, want rcode %v", c.name, c.typ, m.Header, c.rcode)
		}
		var got string
		for _, a := range m.Answers {
			if r, ok := a.Body.(*dnsmessage.AResource); ok {
				got = netip.AddrFrom4(r.A).String()
			}
		}
		if got != c.a || (c.a == "" && len(m.Answers) != 0) {
			t.Errorf("%s %v: answers %v, want %q", c.name, c.typ, m.Answers, c.a)
		}
	}
}
