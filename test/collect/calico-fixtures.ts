// Shared Calico fixtures for the collect tests.

/** A flow log document as Felix writes it at its default aggregation (pods by prefix, no addresses). */
export function calicoDoc(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    start_time: 1717372800,
    end_time: 1717373100,
    source_ip: null,
    source_name: '-',
    source_name_aggr: 'frontend-6d9f8c7b5-*',
    source_namespace: 'shop',
    source_port: null,
    source_type: 'wep',
    source_labels: {
      labels: [
        'app=frontend',
        'pod-template-hash=6d9f8c7b5',
        'projectcalico.org/namespace=shop',
        'projectcalico.org/serviceaccount=frontend',
      ],
    },
    dest_ip: null,
    dest_name: '-',
    dest_name_aggr: 'cartservice-7b8f9c6d4-*',
    dest_namespace: 'shop',
    dest_port: 7070,
    dest_type: 'wep',
    dest_labels: { labels: ['app=cartservice', 'pod-template-hash=7b8f9c6d4'] },
    dest_service_namespace: 'shop',
    dest_service_name: 'cartservice',
    dest_service_port: 'grpc',
    dest_service_port_num: 7070,
    proto: 'tcp',
    action: 'allow',
    reporter: 'src',
    policies: { all_policies: ['0|default|shop/default.frontend-egress|allow|2'] },
    host: 'worker-1',
    num_flows: 12,
    num_flows_started: 3,
    ...extra,
  };
}
