// The Kubernetes version whose API Skiff serves (/version, discovery, `skiff version`).
export const KUBE_VERSION = { major: "1", minor: "32", gitVersion: "v1.32.4+skiff" };
