package workspacebuild

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// Service is the ClusterIP Service the gateway proxies to.
func Service(ws *codehubv1.Workspace) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(ws, Base(ws), true),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(ws),
			Ports:    []corev1.ServicePort{{Name: "http", Port: Port, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// NodePortService exposes the pod on a node port; nil unless spec.nodePort is set.
func NodePortService(ws *codehubv1.Workspace) *corev1.Service {
	if ws.Spec.NodePort == nil {
		return nil
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(ws, NodePortName(ws), true),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: SelectorLabels(ws),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: Port, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
				NodePort: ws.Spec.NodePort.Port,
			}},
		},
	}
}

// Ingress exposes the workspace at spec.ingress.host; nil unless set. It bypasses the
// gateway, so its annotations must carry the platform's authentication (docs/operator.md).
func Ingress(ws *codehubv1.Workspace) *networkingv1.Ingress {
	in := ws.Spec.Ingress
	if in == nil {
		return nil
	}
	meta := objectMeta(ws, Base(ws), true)
	for k, v := range in.Annotations {
		meta.Annotations[k] = v
	}
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			IngressClassName: in.ClassName,
			TLS:              in.TLS,
			Rules: []networkingv1.IngressRule{{
				Host: in.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: Base(ws), Port: networkingv1.ServiceBackendPort{Number: Port},
						}},
					}},
				}},
			}},
		},
	}
}

// NetworkPolicy admits only gateway pods to code-server (which runs with --auth none).
// An Ingress or NodePort the Workspace asks for needs traffic from outside the namespace,
// so then the port is open to all sources and authentication is the Ingress's job.
func NetworkPolicy(ws *codehubv1.Workspace, o Options) *networkingv1.NetworkPolicy {
	rule := networkingv1.NetworkPolicyIngressRule{
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(Port))}},
	}
	if ws.Spec.Ingress == nil && ws.Spec.NodePort == nil {
		rule.From = []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: o.GatewaySelector}}}
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(ws, Base(ws), true),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: SelectorLabels(ws)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{rule},
		},
	}
}
