package testnode

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterDomain is the kubelet's clusterDomain: Services are <name>.<namespace>.svc.<domain>.
const ClusterDomain = "cluster.local"

// DNSPort is where the cluster DNS stand-in listens, on NodeIP (UDP).
const DNSPort = 53

// serviceLookup returns the ClusterIP of Service name in namespace ns; ok false when there is
// no such Service or it has no ClusterIP (headless).
type serviceLookup func(ctx context.Context, ns, name string) (ip netip.Addr, ok bool, err error)

// clusterDNS is the stand-in for a cluster's DNS (CoreDNS's kubernetes plugin), for ClusterIP
// Services only: A queries for <svc>.<ns>.svc.cluster.local get the Service's ClusterIP from
// the apiserver; AAAA for such a name gets an empty answer; every other name is NXDOMAIN.
// Nothing is ever forwarded: a pod cannot resolve a name outside the cluster, so it cannot
// send anything off this machine by name. UDP only (the answers are small).
type clusterDNS struct {
	conn   net.PacketConn
	lookup serviceLookup
	wg     sync.WaitGroup
}

func (n *Node) startClusterDNS() error {
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(NodeIP, "53"))
	if err != nil {
		return err
	}
	d := &clusterDNS{conn: conn, lookup: func(ctx context.Context, ns, name string) (netip.Addr, bool, error) {
		svc, err := n.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return netip.Addr{}, false, nil
		}
		if err != nil {
			return netip.Addr{}, false, err
		}
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !ip.Is4() {
			return netip.Addr{}, false, nil // headless ("None") or not IPv4
		}
		return ip, true, nil
	}}
	d.wg.Add(1)
	go d.serve()
	n.dns = d
	return nil
}

func (d *clusterDNS) stop() {
	_ = d.conn.Close()
	d.wg.Wait()
}

func (d *clusterDNS) serve() {
	defer d.wg.Done()
	buf := make([]byte, 1500)
	for {
		m, addr, err := d.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		q := append([]byte(nil), buf[:m]...)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if resp := d.answer(ctx, q); resp != nil {
				_, _ = d.conn.WriteTo(resp, addr)
			}
		}()
	}
}

// answer builds the response to one query message (nil: drop it, e.g. not a query).
func (d *clusterDNS) answer(ctx context.Context, query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	resp := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RCode: dnsmessage.RCodeSuccess}
	var answer *netip.Addr
	ns, svc, inCluster := serviceName(q.Name.String())
	switch {
	case h.OpCode != 0 || q.Class != dnsmessage.ClassINET:
		resp.RCode = dnsmessage.RCodeNotImplemented
	case !inCluster:
		resp.RCode = dnsmessage.RCodeNameError
	default:
		ip, ok, err := d.lookup(ctx, ns, svc)
		switch {
		case err != nil:
			resp.RCode = dnsmessage.RCodeServerFailure
		case !ok:
			resp.RCode = dnsmessage.RCodeNameError
		case q.Type == dnsmessage.TypeA:
			answer = &ip
		}
	}
	b := dnsmessage.NewBuilder(nil, resp)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	if answer != nil {
		if b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: answer.As4()}) != nil {
			return nil
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

// serviceName splits "<svc>.<ns>.svc.cluster.local." into namespace and Service; inCluster
// false for any other name (including ones under cluster.local of another form).
func serviceName(fqdn string) (ns, svc string, inCluster bool) {
	name := strings.ToLower(strings.TrimSuffix(fqdn, "."))
	rest, ok := strings.CutSuffix(name, ".svc."+ClusterDomain)
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[1], parts[0], true
}
