// cudnn_sdpa.cc — the cuDNN shim: fused flash attention through the SDPA
// graph of the cuDNN frontend (header-only C++, PyPI nvidia-cudnn-frontend),
// exported as one C table (kvw_cudnn.h: kvw_cudnn_shim).  Built as a module,
// libkvw_cudnn.so, over libcudnn.so.9; kvwall opens it with dlopen
// (cudnn_load.c), so nothing in kvwall itself needs cuDNN.
//
// Variants (one graph per shape, built once, executed many times):
//   bf16    Q, K, V, O bf16, fp32 softmax; causal (top-left diagonal) or
//           full; GQA (h_kv divides h); d_qk and d_v apart where cuDNN has
//           it: 192/128 (MLA) on sm_90 and later (kvw_sdpa_head_refusal,
//           from the frontend's support matrix; refused before any graph)
//   fp8     Q, K, V, O e4m3 with unit descale/scale factors and the two
//           amax outputs cuDNN's fp8 graph produces (Hopper and later)
//   paged   decode: K and V from a paged cache [blocks][block][h_kv][d]
//           through a page table, padding mask with every sequence's
//           length (the cuDNN frontend's "paged attention")
// The frontend API used: Graph, Tensor_attributes, SDPA_attributes,
// validate / build_operation_graph / create_execution_plans /
// check_support / build_plans / execute (cudnn-frontend docs,
// docs/operations/Attention.md).
#include <cudnn_frontend.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "kvw_cudnn.h"
#include "kvw_gpuplan.h"

namespace fe = cudnn_frontend;

namespace {

enum Uid : int64_t {
	UQ = 1, UK, UV, UO, UPAGE_K, UPAGE_V, USEQ_Q, USEQ_KV, UDQ, UDK, UDV, UDS, USS, USO, UAMAX_S, UAMAX_O,
};

struct Sdpa {
	kvw_sdpa_shape s{};
	cudnnHandle_t handle = nullptr;
	std::shared_ptr<fe::graph::Graph> graph;
	void *workspace = nullptr;
	int *seq_q = nullptr, *seq_kv = nullptr; // [b] each, paged only
	float *scales = nullptr;                 // fp8: 6 unit factors, then 2 amax outputs
	std::unordered_map<int64_t, void *> pack;

	~Sdpa()
	{
		cudaFree(workspace);
		cudaFree(seq_q);
		cudaFree(seq_kv);
		cudaFree(scales);
		if (handle)
			cudnnDestroy(handle);
	}
};

void say(char *why, size_t cap, const std::string &msg)
{
	if (why && cap)
		std::snprintf(why, cap, "cuDNN: %s", msg.c_str());
}

// dims {b, h, s, d} of a [b][s][h][d] row-major tensor
std::vector<int64_t> bhsd_stride(int64_t s, int64_t h, int64_t d)
{
	return { s * h * d, d, h * d, 1 };
}

using Tensor = std::shared_ptr<fe::graph::Tensor_attributes>;

Tensor tensor(fe::graph::Graph &g, const char *name, int64_t uid, std::vector<int64_t> dim,
              std::vector<int64_t> stride, fe::DataType_t type = fe::DataType_t::NOT_SET)
{
	auto a = fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(dim).set_stride(stride);
	if (type != fe::DataType_t::NOT_SET)
		a.set_data_type(type);
	return g.tensor(a);
}

Tensor scalar(fe::graph::Graph &g, const char *name, int64_t uid)
{
	return tensor(g, name, uid, { 1, 1, 1, 1 }, { 1, 1, 1, 1 }, fe::DataType_t::FLOAT);
}

std::string check_shape(const kvw_sdpa_shape &s)
{
	if (s.batch < 1 || s.tokens_q < 1 || s.tokens_kv < 1 || s.heads < 1 || s.kv_heads < 1 || s.d_qk < 1 || s.d_v < 1)
		return "every size must be positive";
	if (s.heads % s.kv_heads)
		return "kv_heads must divide heads";
	int dev = 0, major = 0, minor = 0;
	if (cudaGetDevice(&dev) == cudaSuccess
	    && cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess)
		cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
	char buf[256];
	bool fp8 = s.dtype == KVW_SDPA_FP8;
	if (const char *no = kvw_sdpa_head_refusal(s.d_qk, s.d_v, fp8, major * 10 + minor, buf, sizeof buf))
		return no;
	if (s.block_tokens > 0 && (s.tokens_kv % s.block_tokens || s.pool_blocks < s.batch * (s.tokens_kv / s.block_tokens)))
		return "paged: tokens_kv must be a multiple of block_tokens and the pool must hold every sequence";
	return "";
}

// builds the graph of p->s; "" or the reason it was refused
std::string build(Sdpa *p)
{
	const kvw_sdpa_shape &s = p->s;
	bool fp8 = s.dtype == KVW_SDPA_FP8, paged = s.block_tokens > 0;
	auto g = std::make_shared<fe::graph::Graph>();
	g->set_io_data_type(fp8 ? fe::DataType_t::FP8_E4M3 : fe::DataType_t::BFLOAT16)
		.set_intermediate_data_type(fe::DataType_t::FLOAT)
		.set_compute_data_type(fe::DataType_t::FLOAT);
	int64_t b = s.batch, h = s.heads, hk = s.kv_heads, sq = s.tokens_q, skv = s.tokens_kv;
	auto Q = tensor(*g, "Q", UQ, { b, h, sq, s.d_qk }, bhsd_stride(sq, h, s.d_qk));
	Tensor K, V;
	auto opt = fe::graph::SDPA_attributes().set_name("kvw_sdpa").set_generate_stats(false);
	opt.set_attn_scale(1.0f / std::sqrt((float)s.d_qk));
	if (s.causal)
		opt.set_causal_mask(true);
	if (paged) {
		int64_t nb = s.pool_blocks, bt = s.block_tokens, per_seq = skv / bt;
		K = tensor(*g, "K", UK, { nb, hk, bt, s.d_qk }, bhsd_stride(bt, hk, s.d_qk));
		V = tensor(*g, "V", UV, { nb, hk, bt, s.d_v }, bhsd_stride(bt, hk, s.d_v));
		auto pk = tensor(*g, "page_k", UPAGE_K, { b, 1, per_seq, 1 }, { per_seq, per_seq, 1, 1 }, fe::DataType_t::INT32);
		auto pv = tensor(*g, "page_v", UPAGE_V, { b, 1, per_seq, 1 }, { per_seq, per_seq, 1, 1 }, fe::DataType_t::INT32);
		auto lq = tensor(*g, "seq_q", USEQ_Q, { b, 1, 1, 1 }, { 1, 1, 1, 1 }, fe::DataType_t::INT32);
		auto lkv = tensor(*g, "seq_kv", USEQ_KV, { b, 1, 1, 1 }, { 1, 1, 1, 1 }, fe::DataType_t::INT32);
		opt.set_paged_attention_k_table(pk).set_paged_attention_v_table(pv).set_paged_attention_max_seq_len_kv((int)skv);
		opt.set_padding_mask(true).set_seq_len_q(lq).set_seq_len_kv(lkv);
	} else {
		K = tensor(*g, "K", UK, { b, hk, skv, s.d_qk }, bhsd_stride(skv, hk, s.d_qk));
		V = tensor(*g, "V", UV, { b, hk, skv, s.d_v }, bhsd_stride(skv, hk, s.d_v));
	}
	Tensor O;
	if (fp8) {
		auto r = g->sdpa_fp8(Q, K, V, scalar(*g, "descale_q", UDQ), scalar(*g, "descale_k", UDK),
		                     scalar(*g, "descale_v", UDV), scalar(*g, "descale_s", UDS), scalar(*g, "scale_s", USS),
		                     scalar(*g, "scale_o", USO), opt);
		O = r[0];
		r[2]->set_output(true).set_uid(UAMAX_S).set_dim({ 1, 1, 1, 1 }).set_stride({ 1, 1, 1, 1 })
			.set_data_type(fe::DataType_t::FLOAT);
		r[3]->set_output(true).set_uid(UAMAX_O).set_dim({ 1, 1, 1, 1 }).set_stride({ 1, 1, 1, 1 })
			.set_data_type(fe::DataType_t::FLOAT);
	} else {
		O = g->sdpa(Q, K, V, opt)[0];
	}
	O->set_output(true).set_uid(UO).set_dim({ b, h, sq, s.d_v }).set_stride(bhsd_stride(sq, h, s.d_v));
	fe::error_t e;
	if ((e = g->validate()).is_bad() || (e = g->build_operation_graph(p->handle)).is_bad()
	    || (e = g->create_execution_plans({ fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK })).is_bad()
	    || (e = g->check_support()).is_bad() || (e = g->build_plans()).is_bad())
		return e.get_message();
	int64_t ws = 0;
	if ((e = g->get_workspace_size(ws)).is_bad())
		return e.get_message();
	if (ws > 0 && cudaMalloc(&p->workspace, (size_t)ws) != cudaSuccess)
		return "cannot allocate the " + std::to_string(ws) + "-byte workspace";
	p->graph = g;
	return "";
}

// device-side constants: sequence lengths (paged), unit fp8 factors
std::string constants(Sdpa *p)
{
	const kvw_sdpa_shape &s = p->s;
	if (s.block_tokens > 0) {
		std::vector<int> q((size_t)s.batch, s.tokens_q), kv((size_t)s.batch, s.tokens_kv);
		size_t n = sizeof(int) * (size_t)s.batch;
		if (cudaMalloc((void **)&p->seq_q, n) || cudaMalloc((void **)&p->seq_kv, n)
		    || cudaMemcpy(p->seq_q, q.data(), n, cudaMemcpyHostToDevice)
		    || cudaMemcpy(p->seq_kv, kv.data(), n, cudaMemcpyHostToDevice))
			return "cannot stage the sequence lengths";
		p->pack[USEQ_Q] = p->seq_q;
		p->pack[USEQ_KV] = p->seq_kv;
	}
	if (s.dtype == KVW_SDPA_FP8) {
		const float one[8] = { 1, 1, 1, 1, 1, 1, 0, 0 };
		if (cudaMalloc((void **)&p->scales, sizeof one) || cudaMemcpy(p->scales, one, sizeof one, cudaMemcpyHostToDevice))
			return "cannot stage the fp8 scale factors";
		const int64_t uids[8] = { UDQ, UDK, UDV, UDS, USS, USO, UAMAX_S, UAMAX_O };
		for (int i = 0; i < 8; i++)
			p->pack[uids[i]] = p->scales + i;
	}
	return "";
}

long shim_version(void)
{
	return (long)cudnnGetVersion();
}

int shim_create(const kvw_sdpa_shape *shape, void **out, char *why, size_t cap)
{
	*out = nullptr;
	std::string bad = check_shape(*shape);
	if (!bad.empty()) {
		say(why, cap, bad);
		return 1;
	}
	auto *p = new (std::nothrow) Sdpa;
	if (!p) {
		say(why, cap, "out of memory");
		return 1;
	}
	p->s = *shape;
	try {
		cudnnStatus_t st = cudnnCreate(&p->handle);
		if (st != CUDNN_STATUS_SUCCESS)
			bad = std::string("cudnnCreate: ") + cudnnGetErrorString(st);
		if (bad.empty())
			bad = build(p);
		if (bad.empty())
			bad = constants(p);
	} catch (const std::exception &e) {
		bad = e.what();
	}
	if (!bad.empty()) {
		say(why, cap, bad);
		delete p;
		return 1;
	}
	*out = p;
	return 0;
}

int shim_run(void *h, const void *q, const void *k, const void *v, void *o, const int *page_table, cudaStream_t s,
             char *why, size_t cap)
{
	Sdpa *p = static_cast<Sdpa *>(h);
	cudnnStatus_t st = cudnnSetStream(p->handle, s);
	if (st != CUDNN_STATUS_SUCCESS) {
		say(why, cap, std::string("cudnnSetStream: ") + cudnnGetErrorString(st));
		return 1;
	}
	p->pack[UQ] = const_cast<void *>(q);
	p->pack[UK] = const_cast<void *>(k);
	p->pack[UV] = const_cast<void *>(v);
	p->pack[UO] = o;
	if (p->s.block_tokens > 0)
		p->pack[UPAGE_K] = p->pack[UPAGE_V] = const_cast<int *>(page_table);
	try {
		fe::error_t e = p->graph->execute(p->handle, p->pack, p->workspace);
		if (e.is_bad()) {
			say(why, cap, e.get_message());
			return 1;
		}
	} catch (const std::exception &e) {
		say(why, cap, e.what());
		return 1;
	}
	return 0;
}

void shim_destroy(void *h)
{
	delete static_cast<Sdpa *>(h);
}

const kvw_cudnn_shim_ops ops = { KVW_CUDNN_SHIM_ABI, shim_version, shim_create, shim_run, shim_destroy };

} // namespace

extern "C" __attribute__((visibility("default"))) const kvw_cudnn_shim_ops *kvw_cudnn_shim(void)
{
	return &ops;
}
