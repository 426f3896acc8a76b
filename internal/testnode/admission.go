package testnode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NeverPullMessage is in the error of every pod the node's admission policy rejects.
const NeverPullMessage = "this test node has no registry: every container must use imagePullPolicy: Never"

// The policy covers containers, init containers and ephemeral containers, on create and update.
const neverPullExpression = `object.spec.containers.all(c, c.imagePullPolicy == 'Never') &&
(!has(object.spec.initContainers) || object.spec.initContainers.all(c, c.imagePullPolicy == 'Never')) &&
(!has(object.spec.ephemeralContainers) || object.spec.ephemeralContainers.all(c, c.imagePullPolicy == 'Never'))`

// installNeverPullPolicy creates the ValidatingAdmissionPolicy and its binding, then waits
// until the apiserver really enforces it (a server-side dry run of a pod with
// imagePullPolicy: IfNotPresent is refused with the policy's message).
func (n *Node) installNeverPullPolicy(ctx context.Context) error {
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: NeverPullPolicy},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				ResourceRules: []admissionv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionv1.RuleWithOperations{
						Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
						Rule: admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
							Resources: []string{"pods", "pods/ephemeralcontainers"}},
					},
				}},
			},
			Validations: []admissionv1.Validation{{Expression: neverPullExpression, Message: NeverPullMessage}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: NeverPullPolicy},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        NeverPullPolicy,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	ar := n.Client.AdmissionregistrationV1()
	if _, err := ar.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := ar.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return err
	}
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: Marker + "-policy-probe", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: PauseImage, ImagePullPolicy: corev1.PullIfNotPresent}}},
	}
	return n.waitFor(ctx, "the image pull policy to be enforced", 30*time.Second, func() error {
		_, err := n.Client.CoreV1().Pods("default").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			return errors.New("a pod with imagePullPolicy IfNotPresent is still admitted")
		}
		if !strings.Contains(err.Error(), NeverPullMessage) {
			return fmt.Errorf("refused, but not by the policy: %w", err)
		}
		return nil
	})
}
