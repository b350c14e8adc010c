// Services (upstream registry/core/service): names are DNS labels; a new Service gets its
// ClusterIP and NodePorts from the allocators.
import { allocateServiceFields } from "../allocators";
import type { Strategy } from "../strategy";

export const serviceStrategy: Strategy = {
  nameValidation: "label",
  prepareForCreate(ctx, svc) {
    allocateServiceFields(ctx.store, svc);
  },
};
