// NetworkPolicy conformance: each case is a set of policies and the connections it must allow or deny,
// transcribed (in our own words) from the documented behaviour and the expectations of the upstream
// end-to-end suite. `cite` says where each expectation comes from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileNetworkPolicies, evaluateConnection, type Inventory, type L4Protocol } from '../../src/policy/index.js';
import { endpoint, load, manifest, world } from './world.js';

const E2E = 'kubernetes/kubernetes test/e2e/network/netpol/network_policy.go';
const CONCEPT = 'https://kubernetes.io/docs/concepts/services-networking/network-policies/';
const API = 'https://kubernetes.io/docs/reference/kubernetes-api/networking-resources/network-policy-v1/';
const LABELS = 'https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/';

const np = (ns: string, name: string, spec: unknown) =>
  manifest('networking.k8s.io/v1', 'NetworkPolicy', ns, name, spec);
const nsName = (ns: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': ns } });
const podIs = (name: string) => ({ matchLabels: { pod: name } });

/** from, to, `PROTO/port`, expected allowed. */
type Check = [string, string, string, boolean];

interface Case {
  name: string;
  cite: string;
  policies: object[];
  checks: Check[];
  namespaceLabels?: Record<string, Record<string, string>>;
}

const CASES: Case[] = [
  {
    name: 'default-deny-ingress isolates every pod of the namespace for ingress only',
    cite: `${E2E}: "should support a 'default-deny-ingress' policy"`,
    policies: [np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })],
    checks: [
      ['x/b', 'x/a', 'TCP/80', false],
      ['y/a', 'x/a', 'TCP/80', false],
      ['x/a', 'y/a', 'TCP/80', true],
      ['y/a', 'y/b', 'TCP/80', true],
    ],
  },
  {
    name: 'default-deny-all blocks traffic into and out of the namespace',
    cite: `${E2E}: "should support a 'default-deny-all' policy"`,
    policies: [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    checks: [
      ['x/a', 'x/b', 'TCP/80', false],
      ['x/a', 'y/a', 'TCP/80', false],
      ['y/a', 'x/a', 'TCP/80', false],
      ['y/a', 'y/b', 'TCP/80', true],
    ],
  },
  {
    name: 'a podSelector peer without namespaceSelector means pods of the policy namespace only',
    cite: `${E2E}: "should enforce policy to allow traffic from pods within server namespace based on PodSelector"`,
    policies: [
      np('x', 'x-a-allows-x-b', { podSelector: podIs('a'), ingress: [{ from: [{ podSelector: podIs('b') }] }] }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', true],
      ['x/c', 'x/a', 'TCP/80', false],
      ['y/b', 'x/a', 'TCP/80', false],
      ['x/c', 'x/b', 'TCP/80', true],
    ],
  },
  {
    name: 'policies are additive: an allow policy for one pod opens it despite a namespace default deny',
    cite: `${E2E}: "should enforce policy to allow ingress traffic for a target"`,
    policies: [
      np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] }),
      np('x', 'allow-all-to-a', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }],
      }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['x/b', 'x/a', 'TCP/80', true],
      ['y/a', 'x/b', 'TCP/80', false],
    ],
  },
  {
    name: 'an empty namespaceSelector selects pods in every namespace, but not external addresses',
    cite: `${E2E}: "should enforce policy to allow ingress traffic from pods in all namespaces"; ${API} NetworkPolicyPeer.namespaceSelector`,
    policies: [np('x', 'from-all-ns', { podSelector: podIs('a'), ingress: [{ from: [{ namespaceSelector: {} }] }] })],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['z/c', 'x/a', 'TCP/80', true],
      ['x/b', 'x/a', 'TCP/80', true],
      ['ip:203.0.113.7', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'namespaceSelector with matchLabels on the automatic name label',
    cite: `${E2E}: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector"`,
    policies: [
      np('x', 'from-y', { podSelector: podIs('a'), ingress: [{ from: [{ namespaceSelector: nsName('y') }] }] }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/c', 'x/a', 'TCP/80', true],
      ['x/b', 'x/a', 'TCP/80', false],
      ['z/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'podSelector with matchExpressions In',
    cite: `${E2E}: "should enforce policy based on PodSelector with MatchExpressions"`,
    policies: [
      np('x', 'in-b', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', true],
      ['x/c', 'x/a', 'TCP/80', false],
      ['y/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'namespaceSelector with matchExpressions In',
    cite: `${E2E}: "should enforce policy based on NamespaceSelector with MatchExpressions"`,
    policies: [
      np('x', 'ns-in-y', {
        podSelector: podIs('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['y'] }],
                },
              },
            ],
          },
        ],
      }),
    ],
    checks: [
      ['y/b', 'x/a', 'TCP/80', true],
      ['x/b', 'x/a', 'TCP/80', false],
      ['z/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'two peers in one rule are ORed (namespaceSelector NotIn x, or podSelector pod=b)',
    cite: `${E2E}: "should enforce policy based on PodSelector or NamespaceSelector"; ${CONCEPT} "Behavior of to and from selectors"`,
    policies: [
      np('x', 'or', {
        podSelector: podIs('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x'] }],
                },
              },
              { podSelector: podIs('b') },
            ],
          },
        ],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', true],
      ['x/c', 'x/a', 'TCP/80', false],
      ['y/a', 'x/a', 'TCP/80', true],
      ['z/c', 'x/a', 'TCP/80', true],
    ],
  },
  {
    name: 'podSelector and namespaceSelector in one peer are ANDed',
    cite: `${E2E}: "should enforce policy based on PodSelector and NamespaceSelector"; ${CONCEPT} "Behavior of to and from selectors"`,
    policies: [
      np('x', 'and', {
        podSelector: podIs('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x'] }],
                },
                podSelector: podIs('b'),
              },
            ],
          },
        ],
      }),
    ],
    checks: [
      ['y/b', 'x/a', 'TCP/80', true],
      ['z/b', 'x/a', 'TCP/80', true],
      ['x/b', 'x/a', 'TCP/80', false],
      ['y/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'matchExpressions In with several values, ANDed with a namespace NotIn',
    cite: `${E2E}: "should enforce policy based on Multiple PodSelectors and NamespaceSelectors"`,
    policies: [
      np('x', 'multi', {
        podSelector: podIs('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x'] }],
                },
                podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] },
              },
            ],
          },
        ],
      }),
    ],
    checks: [
      ['y/b', 'x/a', 'TCP/80', true],
      ['y/c', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'several podSelector peers: any of them is enough',
    cite: `${E2E}: "should enforce policy based on any PodSelectors"`,
    policies: [
      np('x', 'b-or-c', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ podSelector: podIs('b') }, { podSelector: podIs('c') }] }],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', true],
      ['x/c', 'x/a', 'TCP/80', true],
      ['y/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'one pod in another namespace by namespace and pod selector together',
    cite: `${E2E}: "should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector"`,
    policies: [
      np('x', 'only-y-a', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ namespaceSelector: nsName('y'), podSelector: podIs('a') }] }],
      }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/b', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/80', false],
      ['z/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'a numeric port restricts the rule to that port',
    cite: `${E2E}: "should enforce policy based on Ports"`,
    policies: [
      np('x', 'y-on-81', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ namespaceSelector: nsName('y') }], ports: [{ port: 81, protocol: 'TCP' }] }],
      }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/81', true],
      ['y/a', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/81', false],
      ['z/a', 'x/a', 'TCP/81', false],
    ],
  },
  {
    name: 'stacked policies with overlapping podSelectors add up',
    cite: `${E2E}: "should enforce multiple, stacked policies with overlapping podSelectors"`,
    policies: [
      np('x', 'y-on-81', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ namespaceSelector: nsName('y') }], ports: [{ port: 81, protocol: 'TCP' }] }],
      }),
      np('x', 'y-on-80', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ namespaceSelector: nsName('y') }], ports: [{ port: 80, protocol: 'TCP' }] }],
      }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/81', true],
      ['z/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'an empty ingress rule allows everything, external addresses included',
    cite: `${E2E}: "should support allow-all policy"; ${CONCEPT} "Allow all ingress traffic"`,
    policies: [np('x', 'allow-all', { podSelector: {}, ingress: [{}] })],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'UDP/81', true],
      ['ip:198.51.100.1', 'x/b', 'TCP/8080', true],
    ],
  },
  {
    name: 'ingress on a named port resolves the name on the destination pod',
    cite: `${E2E}: "should allow ingress access on one named port"`,
    policies: [np('x', 'named-81', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })],
    checks: [
      ['y/a', 'x/a', 'TCP/81', true],
      ['x/b', 'x/a', 'TCP/81', true],
      ['y/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'a named port ANDed with a namespaceSelector',
    cite: `${E2E}: "should allow ingress access from namespace on one named port"`,
    policies: [
      np('x', 'y-named-80', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ namespaceSelector: nsName('y') }], ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }],
      }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/81', false],
      ['z/a', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'egress on a named port: resolved on the destination pod, so it never matches a plain address',
    cite: `${E2E}: "should allow egress access on one named port"; ${API} NetworkPolicyPort.port`,
    policies: [np('x', 'egress-named-80', { podSelector: {}, egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
    checks: [
      ['x/a', 'y/a', 'TCP/80', true],
      ['x/a', 'y/a', 'TCP/81', false],
      ['x/a', 'ip:203.0.113.9', 'TCP/80', false],
    ],
  },
  {
    name: 'a named port only matches a container port of the same protocol',
    cite: `${API} NetworkPolicyPort.protocol and .port (the name refers to the pod's named container port)`,
    policies: [
      np('x', 'udp-name', {
        podSelector: podIs('a'),
        ingress: [{ ports: [{ port: 'serve-80-tcp', protocol: 'UDP' }] }],
      }),
    ],
    checks: [
      ['y/a', 'x/a', 'UDP/80', false],
      ['y/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'an empty podSelector peer means every pod of the policy namespace and nothing else',
    cite: `${E2E}: "should deny ingress from pods on other namespaces"`,
    policies: [np('x', 'same-ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
    checks: [
      ['x/b', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/80', false],
      ['z/a', 'x/c', 'TCP/80', false],
    ],
  },
  {
    name: 'an Egress-only policy without rules denies egress of the selected pod only',
    cite: `${E2E}: "should deny egress from pods based on PodSelector"`,
    policies: [np('x', 'deny-egress-a', { podSelector: podIs('a'), policyTypes: ['Egress'] })],
    checks: [
      ['x/a', 'y/a', 'TCP/80', false],
      ['x/a', 'x/b', 'TCP/80', false],
      ['x/b', 'y/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/80', true],
    ],
  },
  {
    name: 'egress default deny for a whole namespace',
    cite: `${E2E}: "should deny egress from all pods in a namespace"`,
    policies: [np('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })],
    checks: [
      ['x/a', 'x/b', 'TCP/80', false],
      ['x/c', 'y/a', 'TCP/80', false],
      ['y/a', 'x/a', 'TCP/80', true],
    ],
  },
  {
    name: 'ingress and egress rules in one policy',
    cite: `${E2E}: "should work with Ingress, Egress specified together"`,
    policies: [
      np('x', 'both', {
        podSelector: podIs('a'),
        policyTypes: ['Egress', 'Ingress'],
        ingress: [{ from: [{ podSelector: podIs('b') }] }],
        egress: [{ ports: [{ port: 80 }] }],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', true],
      ['x/c', 'x/a', 'TCP/80', false],
      ['x/a', 'y/a', 'TCP/80', true],
      ['x/a', 'y/a', 'TCP/81', false],
      ['x/b', 'x/a', 'TCP/81', true],
    ],
  },
  {
    name: 'egress is checked at the source even when the destination allows the traffic',
    cite: `${E2E}: "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)"`,
    policies: [
      np('x', 'to-y-a', {
        podSelector: podIs('a'),
        egress: [{ to: [{ namespaceSelector: nsName('y'), podSelector: podIs('a') }] }],
      }),
      np('y', 'from-x-a-to-a', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ namespaceSelector: nsName('x'), podSelector: podIs('a') }] }],
      }),
      np('y', 'from-x-a-to-b', {
        podSelector: podIs('b'),
        ingress: [{ from: [{ namespaceSelector: nsName('x'), podSelector: podIs('a') }] }],
      }),
    ],
    checks: [
      ['x/a', 'y/a', 'TCP/80', true],
      ['x/a', 'y/b', 'TCP/80', false],
      ['x/b', 'y/a', 'TCP/80', false],
    ],
  },
  {
    name: 'egress to a pod of another namespace by namespace and pod selector',
    cite: `${E2E}: "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector"`,
    policies: [
      np('x', 'to-y-a', {
        podSelector: podIs('a'),
        egress: [{ to: [{ namespaceSelector: nsName('y'), podSelector: podIs('a') }] }],
      }),
    ],
    checks: [
      ['x/a', 'y/a', 'TCP/80', true],
      ['x/a', 'y/b', 'TCP/80', false],
      ['x/a', 'x/b', 'TCP/80', false],
    ],
  },
  {
    name: 'a port entry with only a protocol allows every port of that protocol',
    cite: `${E2E}: "should enforce ingress policy allowing any port traffic to a server on a specific protocol"`,
    policies: [np('x', 'tcp-only', { podSelector: podIs('a'), ingress: [{ ports: [{ protocol: 'TCP' }] }] })],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/8443', true],
      ['y/a', 'x/a', 'UDP/80', false],
    ],
  },
  {
    name: 'an allow-all ingress policy wins over a narrower one',
    cite: `${E2E}: "should enforce multiple ingress policies with ingress allow-all policy taking precedence"`,
    policies: [
      np('x', 'only-80', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }),
      np('x', 'allow-ingress', { podSelector: {}, ingress: [{}] }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/81', true],
      ['y/a', 'x/a', 'TCP/80', true],
    ],
  },
  {
    name: 'an allow-all egress policy wins over a narrower one',
    cite: `${E2E}: "should enforce multiple egress policies with egress allow-all policy taking precedence"`,
    policies: [
      np('x', 'only-80', { podSelector: {}, egress: [{ ports: [{ port: 80 }] }] }),
      np('x', 'allow-egress', { podSelector: {}, egress: [{}] }),
    ],
    checks: [['x/a', 'y/a', 'TCP/81', true]],
  },
  {
    name: 'the narrower egress policy alone blocks other ports',
    cite: `${E2E}: "should enforce multiple egress policies with egress allow-all policy taking precedence" (first step)`,
    policies: [np('x', 'only-80', { podSelector: {}, egress: [{ ports: [{ port: 80 }] }] })],
    checks: [
      ['x/a', 'y/a', 'TCP/81', false],
      ['x/a', 'y/a', 'TCP/80', true],
    ],
  },
  {
    name: 'egress to a pod by its /32 address (ipBlock also matches pod addresses)',
    cite: `${E2E}: "should allow egress access to server in CIDR block"`,
    policies: [
      np('x', 'to-y-b-ip', { podSelector: podIs('a'), egress: [{ to: [{ ipBlock: { cidr: '10.0.2.2/32' } }] }] }),
    ],
    checks: [
      ['x/a', 'y/b', 'TCP/80', true],
      ['x/a', 'y/a', 'TCP/80', false],
      ['x/a', 'ip:10.0.2.2', 'TCP/80', true],
    ],
  },
  {
    name: 'ipBlock except carves an address out of the block',
    cite: `${E2E}: "should enforce except clause while egress access to server in CIDR block"`,
    policies: [
      np('x', 'wide-but-b', {
        podSelector: podIs('a'),
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.2/32'] } }] }],
      }),
    ],
    checks: [
      ['x/a', 'x/b', 'TCP/80', false],
      ['x/a', 'x/c', 'TCP/80', true],
      ['x/a', 'ip:10.1.0.1', 'TCP/80', false],
    ],
  },
  {
    name: "an address in one block's except is still allowed by another policy that covers it",
    cite: `${E2E}: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed"`,
    policies: [
      np('x', 'wide-but-b', {
        podSelector: podIs('a'),
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.2/32'] } }] }],
      }),
      np('x', 'just-b', { podSelector: podIs('a'), egress: [{ to: [{ ipBlock: { cidr: '10.0.1.2/32' } }] }] }),
    ],
    checks: [
      ['x/a', 'x/b', 'TCP/80', true],
      ['x/a', 'x/c', 'TCP/80', true],
    ],
  },
  {
    name: 'ipBlock with IPv6 addresses and an IPv6 except; families never mix',
    cite: `${API} IPBlock (cidr and except accept IPv4 and IPv6, e.g. 2001:db8::/64)`,
    policies: [
      np('x', 'v6', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ ipBlock: { cidr: 'fd00:10::/32', except: ['fd00:10:0:1::/64'] } }] }],
      }),
    ],
    checks: [
      ['ip:fd00:10::5', 'x/a', 'TCP/80', true],
      ['ip:fd00:10:ffff::1', 'x/a', 'TCP/80', true],
      ['ip:fd00:10:0:1::7', 'x/a', 'TCP/80', false],
      ['ip:2001:db8::1', 'x/a', 'TCP/80', false],
      ['ip:10.0.0.1', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'egress to an external IPv4 range',
    cite: `${CONCEPT} "The NetworkPolicy resource" (egress to ipBlock 10.0.0.0/24 on TCP 5978)`,
    policies: [
      np('x', 'to-ext', {
        podSelector: podIs('a'),
        egress: [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ protocol: 'TCP', port: 443 }] }],
      }),
    ],
    checks: [
      ['x/a', 'ip:203.0.113.200', 'TCP/443', true],
      ['x/a', 'ip:203.0.113.200', 'TCP/80', false],
      ['x/a', 'ip:198.51.100.1', 'TCP/443', false],
    ],
  },
  {
    name: 'ingress and egress are controlled independently',
    cite: `${E2E}: "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector"`,
    policies: [
      np('x', 'allow-egress', { podSelector: podIs('a'), egress: [{}] }),
      np('x', 'deny-ingress', { podSelector: podIs('a'), policyTypes: ['Ingress'] }),
    ],
    checks: [
      ['x/a', 'x/b', 'TCP/80', true],
      ['x/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'an SCTP rule does not allow TCP on the same port',
    cite: `${E2E}: "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP"`,
    policies: [
      np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }),
      np('x', 'sctp-81', { podSelector: podIs('a'), ingress: [{ ports: [{ port: 81, protocol: 'SCTP' }] }] }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/81', false],
      ['y/a', 'x/a', 'SCTP/81', true],
    ],
  },
  {
    name: 'a policy allowing only SCTP still isolates the pod for TCP',
    cite: `${E2E}: "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP"`,
    policies: [np('x', 'sctp-80', { podSelector: podIs('a'), ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }] })],
    checks: [
      ['y/a', 'x/a', 'TCP/81', false],
      ['y/a', 'x/a', 'SCTP/80', true],
    ],
  },
  {
    name: 'a UDP rule does not allow TCP',
    cite: `${E2E}: "should not allow access by TCP when a policy specifies only UDP"`,
    policies: [np('x', 'udp-81', { podSelector: podIs('a'), ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }] })],
    checks: [
      ['y/a', 'x/a', 'TCP/81', false],
      ['y/a', 'x/a', 'UDP/81', true],
    ],
  },
  {
    name: 'namespaceSelector on a namespace label other than the name',
    cite: `${E2E}: "should allow ingress access from updated namespace" (after the label is added)`,
    namespaceLabels: { y: { ns2: 'updated' } },
    policies: [
      np('x', 'ns2', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }],
      }),
    ],
    checks: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['z/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'egress with namespaceSelector NotIn on the name label',
    cite: `${E2E}: "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label"`,
    policies: [
      np('x', 'not-y', {
        podSelector: podIs('a'),
        egress: [
          {
            to: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['y'] }],
                },
              },
            ],
          },
        ],
      }),
    ],
    checks: [
      ['x/a', 'y/a', 'TCP/80', false],
      ['x/a', 'z/a', 'TCP/80', true],
      ['x/a', 'x/b', 'TCP/80', true],
    ],
  },
  {
    name: 'policyTypes absent and egress rules present: the policy isolates for ingress AND egress',
    cite: `${API} NetworkPolicySpec.policyTypes (defaults: Ingress always, Egress when the spec has egress rules)`,
    policies: [
      np('x', 'egress-only-rules', { podSelector: podIs('a'), egress: [{ to: [{ namespaceSelector: nsName('y') }] }] }),
    ],
    checks: [
      ['x/a', 'y/a', 'TCP/80', true],
      ['x/a', 'z/a', 'TCP/80', false],
      ['y/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'policyTypes absent and only ingress rules: egress stays open',
    cite: `${API} NetworkPolicySpec.policyTypes; ${CONCEPT} "Default deny all ingress traffic"`,
    policies: [
      np('x', 'ingress-rules', { podSelector: podIs('a'), ingress: [{ from: [{ podSelector: podIs('b') }] }] }),
    ],
    checks: [
      ['x/a', 'z/a', 'TCP/80', true],
      ['x/c', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'policyTypes [Egress] makes ingress rules in the same policy irrelevant',
    cite: `${CONCEPT} "The NetworkPolicy resource" (policyTypes says which directions the policy applies to)`,
    policies: [
      np('x', 'egress-typed', {
        podSelector: podIs('a'),
        policyTypes: ['Egress'],
        ingress: [{ from: [{ podSelector: podIs('b') }] }],
        egress: [{ to: [{ podSelector: podIs('b') }] }],
      }),
    ],
    checks: [
      ['x/c', 'x/a', 'TCP/80', true],
      ['x/a', 'x/b', 'TCP/80', true],
      ['x/a', 'x/c', 'TCP/80', false],
    ],
  },
  {
    name: 'an empty from list matches every source, like an absent one',
    cite: `${API} NetworkPolicyIngressRule.from ("If this field is empty or missing, this rule matches all sources")`,
    policies: [np('x', 'empty-from', { podSelector: podIs('a'), ingress: [{ from: [], ports: [{ port: 80 }] }] })],
    checks: [
      ['z/c', 'x/a', 'TCP/80', true],
      ['ip:203.0.113.1', 'x/a', 'TCP/80', true],
      ['z/c', 'x/a', 'TCP/81', false],
    ],
  },
  {
    name: 'matchExpressions Exists',
    cite: `${LABELS} "Set-based requirement" (exists: the key is present, any value)`,
    policies: [
      np('x', 'exists', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'role', operator: 'Exists' }] } }] }],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', true],
      ['x/c', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'matchExpressions DoesNotExist',
    cite: `${LABELS} "Set-based requirement" (!key: the key is absent)`,
    policies: [
      np('x', 'not-exists', {
        podSelector: podIs('a'),
        ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'role', operator: 'DoesNotExist' }] } }] }],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', false],
      ['x/c', 'x/a', 'TCP/80', true],
    ],
  },
  {
    name: 'matchExpressions NotIn also matches pods that lack the key',
    cite: `${LABELS} "Set-based requirement" (notin selects resources without the key too)`,
    policies: [
      np('x', 'notin', {
        podSelector: podIs('a'),
        ingress: [
          { from: [{ podSelector: { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['client'] }] } }] },
        ],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', false],
      ['x/c', 'x/a', 'TCP/80', true],
    ],
  },
  {
    name: 'matchLabels and matchExpressions in one selector are ANDed',
    cite: `${API} LabelSelector ("The requirements are ANDed")`,
    policies: [
      np('x', 'and-terms', {
        podSelector: podIs('a'),
        ingress: [
          {
            from: [
              {
                podSelector: {
                  matchLabels: { role: 'client' },
                  matchExpressions: [{ key: 'pod', operator: 'In', values: ['c'] }],
                },
              },
            ],
          },
        ],
      }),
    ],
    checks: [
      ['x/b', 'x/a', 'TCP/80', false],
      ['x/c', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'endPort allows a range of ports, both ends included',
    cite: `${CONCEPT} "Targeting a range of ports"`,
    policies: [
      np('x', 'range', {
        podSelector: podIs('a'),
        policyTypes: ['Egress'],
        egress: [
          { to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 32000, endPort: 32768 }] },
        ],
      }),
    ],
    checks: [
      ['x/a', 'ip:10.0.0.5', 'TCP/32000', true],
      ['x/a', 'ip:10.0.0.5', 'TCP/32768', true],
      ['x/a', 'ip:10.0.0.5', 'TCP/32769', false],
      ['x/a', 'ip:10.0.0.5', 'TCP/31999', false],
      ['x/a', 'ip:10.0.0.5', 'UDP/32000', false],
    ],
  },
  {
    name: "traffic to and from the pod's own node is always allowed",
    cite: `${CONCEPT} introduction ("traffic to and from the node where a Pod is running is always allowed, regardless of the IP address of the Pod or the node")`,
    policies: [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    checks: [
      ['node', 'x/a', 'TCP/80', true],
      ['x/a', 'node', 'TCP/10250', true],
      ['ip:192.168.0.11', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'a pod cannot block access to itself',
    cite: `${CONCEPT} introduction ("exception: a pod cannot block access to itself")`,
    policies: [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    checks: [['x/a', 'x/a', 'TCP/80', true]],
  },
  {
    name: 'NetworkPolicy does not apply to host-network pods',
    cite: `${CONCEPT} "NetworkPolicy and hostNetwork pods"`,
    policies: [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    checks: [
      ['y/a', 'x/h', 'TCP/80', true],
      ['x/h', 'y/a', 'TCP/80', true],
    ],
  },
  {
    name: 'a connection needs both ends: open egress does not help against closed ingress, and vice versa',
    cite: `${CONCEPT} "Isolated and Non-isolated Pods" (both the egress policy on the source and the ingress policy on the destination must allow it)`,
    policies: [
      np('x', 'egress-to-y', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: nsName('y') }] }],
      }),
      np('y', 'deny-ingress', { podSelector: podIs('a'), policyTypes: ['Ingress'] }),
      np('z', 'from-x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsName('x') }] }] }),
    ],
    checks: [
      ['x/a', 'y/a', 'TCP/80', false],
      ['x/a', 'y/b', 'TCP/80', true],
      ['x/a', 'z/a', 'TCP/80', false],
      ['y/b', 'z/a', 'TCP/80', false],
    ],
  },
  {
    name: 'a policy only selects pods in its own namespace',
    cite: `${API} NetworkPolicySpec.podSelector ("selects the pods to which this NetworkPolicy object applies", in the policy namespace)`,
    policies: [np('y', 'deny-all-y', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    checks: [
      ['z/a', 'x/a', 'TCP/80', true],
      ['x/a', 'z/a', 'TCP/80', true],
      ['x/a', 'y/a', 'TCP/80', false],
    ],
  },
  {
    name: 'traffic between addresses that are not pods is not subject to NetworkPolicy',
    cite: `${CONCEPT} introduction (NetworkPolicies apply to a connection with a pod on one or both ends)`,
    policies: [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    checks: [
      ['ip:203.0.113.1', 'ip:10.0.1.1', 'TCP/80', true],
      ['x/a', 'ip:203.0.113.1', 'TCP/443', false],
    ],
  },
];

function parsePort(s: string): { protocol: L4Protocol; port: number } {
  const [protocol, port] = s.split('/');
  return { protocol: protocol as L4Protocol, port: Number(port) };
}

function run(inv: Inventory, c: Case): void {
  const compiled = compileNetworkPolicies(load(c.policies).networkPolicies, inv);
  for (const [from, to, port, expected] of c.checks) {
    const conn = { src: endpoint(inv, from), dst: endpoint(inv, to), ...parsePort(port) };
    const detailed = evaluateConnection(compiled, conn);
    assert.equal(detailed.allowed, expected, `${from} -> ${to} ${port} should be ${expected ? 'allowed' : 'denied'}`);
    // The fast path used by bulk verification must agree with the detailed one.
    assert.equal(
      evaluateConnection(compiled, conn, { detail: false }).allowed,
      expected,
      `${from} -> ${to} ${port} (fast)`,
    );
  }
}

describe('NetworkPolicy conformance', () => {
  it('has at least 40 cases, each citing its source', () => {
    assert.ok(CASES.length >= 40, `only ${CASES.length} cases`);
    for (const c of CASES) assert.match(c.cite, /kubernetes\.io|network_policy\.go/, c.name);
  });
  for (const c of CASES) {
    it(c.name, () => run(world(c.namespaceLabels), c));
  }
});
