/* sim_cluster.h — the simulated cluster the planner's unit tests share: an
 * H100-like GPU (3.35 TB/s HBM, 80 GB at 0.9 utilisation less 2 GB), 8 GPUs
 * per node on NVLink-like 450 GB/s links, 50 GB/s between nodes, 1 ms
 * handshake, 1 us per descriptor, 20 us fixed per layer, 16-token blocks.
 * A test that needs other fixed costs changes the fields it names. */
#ifndef KVW_TEST_SIM_CLUSTER_H
#define KVW_TEST_SIM_CLUSTER_H

#include "kvw_sim.h"

static inline kvw_cluster test_cluster(const kvw_scenario *sc, int gpus)
{
	kvw_cluster c = { 0 };
	c.sc = sc;
	c.weight_bytes = 2;
	c.hbm_bw = 3.35e12;
	c.mem = (kvw_mem_budget){ 80e9, 0.9, 2e9 };
	c.gpus = gpus;
	c.gpus_per_node = 8;
	c.intra = (kvw_link){ 3e-6, 450e9 };
	c.inter = (kvw_link){ 2e-6, 50e9 };
	c.intra_desc_s = c.inter_desc_s = 1e-6;
	c.handshake_s = 1e-3;
	c.pack_bw = 1.5e12;
	c.layer_fixed_s = 20e-6;
	c.block_tokens = 16;
	c.act_bytes = 2;
	return c;
}

#endif
