"""Design-space sweep: bit widths x layer sizes -> NDCG@10, resources, latency."""
