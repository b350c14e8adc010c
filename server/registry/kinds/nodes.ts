// Nodes: a new Node gets a free pod CIDR (upstream's node IPAM, done at registration here).
import { allocateNodePodCidr } from "../allocators";
import type { Strategy } from "../strategy";

export const nodeStrategy: Strategy = {
  prepareForCreate(ctx, node) {
    allocateNodePodCidr(ctx.store, node);
  },
};
