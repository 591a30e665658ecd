// codesign graph-recommender kernels for hls4ml (io_parallel and io_stream).
//
// Every type comes from the layer's config: accumulators (xw_t, accum_t, sum_t, res_T of the
// graph convolution and the pooling) are wide enough for every value they can hold, so the
// only rounding in the whole model happens where a quantizer (nnet::fixed_quant, res_T with
// AP_RND_CONV/AP_SAT) says so: the C simulation equals codesign's Python reference bit for bit.
#ifndef NNET_CODESIGN_H_
#define NNET_CODESIGN_H_

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_types.h"

namespace nnet {

struct gcn_config {
    static const unsigned n_nodes = 6;
    static const unsigned n_in = 8;
    static const unsigned n_out = 8;
    static const unsigned reuse_factor = 1;
    typedef float weight_t;
    typedef float bias_t;
    typedef float adjacency_t;
    typedef float xw_t;
    typedef float accum_t;
    // static graphs: propagate(xw, acc) adds the constant operator's rows (generated per layer)
};

// x @ W per node (exact, xw_t)
template <class data_T, typename CONFIG_T>
void gcn_transform(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_in],
                   typename CONFIG_T::xw_t xw[CONFIG_T::n_nodes * CONFIG_T::n_out],
                   typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out]) {
    #pragma HLS INLINE
Nodes:
    for (unsigned i = 0; i < CONFIG_T::n_nodes; i++) {
    Channels:
        for (unsigned k = 0; k < CONFIG_T::n_out; k++) {
            typename CONFIG_T::xw_t acc = 0;
        Features:
            for (unsigned j = 0; j < CONFIG_T::n_in; j++) {
                acc += x[i * CONFIG_T::n_in + j] * w[j * CONFIG_T::n_out + k];
            }
            xw[i * CONFIG_T::n_out + k] = acc;
        }
    }
}

// Static graph: out = Â (x W) + b with Â a compile-time constant: CONFIG_T::propagate is an
// adder tree over the non-zero entries only (constant multiplies, no multipliers for Â).
template <class data_T, class res_T, typename CONFIG_T>
void gcn_static(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_in], res_T res[CONFIG_T::n_nodes * CONFIG_T::n_out],
                typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    #pragma HLS ARRAY_PARTITION variable = w complete
    typename CONFIG_T::xw_t xw[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = xw complete
    typename CONFIG_T::accum_t acc[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = acc complete
    gcn_transform<data_T, CONFIG_T>(x, xw, w);
Bias:
    for (unsigned i = 0; i < CONFIG_T::n_nodes * CONFIG_T::n_out; i++) {
        acc[i] = b[i % CONFIG_T::n_out];
    }
    CONFIG_T::propagate(xw, acc);
Out:
    for (unsigned i = 0; i < CONFIG_T::n_nodes * CONFIG_T::n_out; i++) {
        res[i] = acc[i];
    }
}

// Dynamic graph: Â (n_nodes x n_nodes, on the adjacency grid) is the layer's second input.
template <class data_T, class adj_T, class res_T, typename CONFIG_T>
void gcn_dynamic(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_in], adj_T a[CONFIG_T::n_nodes * CONFIG_T::n_nodes],
                 res_T res[CONFIG_T::n_nodes * CONFIG_T::n_out],
                 typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                 typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    #pragma HLS ARRAY_PARTITION variable = w complete
    typename CONFIG_T::xw_t xw[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = xw complete
    gcn_transform<data_T, CONFIG_T>(x, xw, w);
Rows:
    for (unsigned i = 0; i < CONFIG_T::n_nodes; i++) {
    Channels:
        for (unsigned k = 0; k < CONFIG_T::n_out; k++) {
            typename CONFIG_T::accum_t acc = b[k];
        Cols:
            for (unsigned j = 0; j < CONFIG_T::n_nodes; j++) {
                acc += a[i * CONFIG_T::n_nodes + j] * xw[j * CONFIG_T::n_out + k];
            }
            res[i * CONFIG_T::n_out + k] = acc;
        }
    }
}

struct readout_config {
    static const unsigned n_nodes = 6;
    static const unsigned n_feat = 8;
    static const unsigned n_rows = 2;
    // static unsigned row(unsigned r): the node slot of readout row r (generated per layer)
};

template <class data_T, class res_T, typename CONFIG_T>
void node_readout(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_feat], res_T res[CONFIG_T::n_rows * CONFIG_T::n_feat]) {
    #pragma HLS INLINE
    for (unsigned r = 0; r < CONFIG_T::n_rows; r++) {
        for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
            res[r * CONFIG_T::n_feat + f] = x[CONFIG_T::row(r) * CONFIG_T::n_feat + f];
        }
    }
}

struct meanpool_config {
    static const unsigned n_tokens = 8;
    static const unsigned n_feat = 8;
    static const unsigned reuse_factor = 1;
    typedef float sum_t;
    typedef float recip_t;
    typedef unsigned count_t;
};

// Masked mean: sum of the embeddings of non-padding tokens (id != 0) times recip[count].
template <class data_T, class tok_T, class res_T, typename CONFIG_T>
void masked_mean_pool(data_T emb[CONFIG_T::n_tokens * CONFIG_T::n_feat], tok_T tokens[CONFIG_T::n_tokens],
                      res_T res[CONFIG_T::n_feat], typename CONFIG_T::recip_t recip[CONFIG_T::n_tokens + 1]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    typename CONFIG_T::count_t count = 0;
Count:
    for (unsigned t = 0; t < CONFIG_T::n_tokens; t++) {
        if (tokens[t] != 0)
            count++;
    }
Features:
    for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
        typename CONFIG_T::sum_t sum = 0;
    Tokens:
        for (unsigned t = 0; t < CONFIG_T::n_tokens; t++) {
            if (tokens[t] != 0)
                sum += emb[t * CONFIG_T::n_feat + f];
        }
        res[f] = sum * recip[count];
    }
}

struct quant_config {
    static const unsigned n_in = 8;
    static const bool relu = false;
};

// A QKeras quantizer: res_T carries the rounding (AP_RND_CONV) and saturation (AP_SAT) modes.
// The value passes through a wider word first (free wiring): ap_types' C model reads the
// rounding bit from the source word, and it must lie inside it even for a narrow source.
template <class data_T, class res_T, typename CONFIG_T>
void fixed_quant(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    #pragma HLS INLINE
    typedef ap_fixed<data_T::width + 24, data_T::iwidth + 24> wide_t;
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        wide_t x = data[i];
        if (CONFIG_T::relu && x < 0)
            res[i] = 0;
        else
            res[i] = x;
    }
}


struct node_dense_config {
    static const unsigned n_nodes = 6;
    static const unsigned n_in = 8;
    static const unsigned n_out = 8;
    static const unsigned reuse_factor = 1;
    typedef float weight_t;
    typedef float bias_t;
    typedef float accum_t;
};

// A Dense layer applied to every node (row) of a (n_nodes, n_in) input: x W + b per node,
// accumulated exactly in accum_t, then cast once to res_T (its rounding and overflow modes).
template <class data_T, class res_T, typename CONFIG_T>
void node_dense(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_in], res_T res[CONFIG_T::n_nodes * CONFIG_T::n_out],
                typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    #pragma HLS ARRAY_PARTITION variable = w complete
    #pragma HLS ARRAY_PARTITION variable = b complete
Nodes:
    for (unsigned i = 0; i < CONFIG_T::n_nodes; i++) {
    Channels:
        for (unsigned k = 0; k < CONFIG_T::n_out; k++) {
            typename CONFIG_T::accum_t acc = b[k];
        Features:
            for (unsigned j = 0; j < CONFIG_T::n_in; j++) {
                acc += x[i * CONFIG_T::n_in + j] * w[j * CONFIG_T::n_out + k];
            }
            res[i * CONFIG_T::n_out + k] = acc;
        }
    }
}

struct global_pool_config {
    static const unsigned n_nodes = 6;
    static const unsigned n_feat = 8;
    static const unsigned reuse_factor = 1;
    static const unsigned mode = 0; // 0 sum, 1 average (sum times scale), 2 max
    typedef float accum_t;
    typedef float scale_t;
    // static scale_t scale(): 1 / n_nodes on scale_t's grid (generated per layer)
};

// Spektral's GlobalSumPool / GlobalAvgPool / GlobalMaxPool over the nodes of (n_nodes, n_feat).
template <class data_T, class res_T, typename CONFIG_T>
void global_pool(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_feat], res_T res[CONFIG_T::n_feat]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
Features:
    for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
        if (CONFIG_T::mode == 2) {
            data_T best = x[f];
        Max:
            for (unsigned i = 1; i < CONFIG_T::n_nodes; i++) {
                if (x[i * CONFIG_T::n_feat + f] > best)
                    best = x[i * CONFIG_T::n_feat + f];
            }
            res[f] = best;
        } else {
            typename CONFIG_T::accum_t acc = 0;
        Sum:
            for (unsigned i = 0; i < CONFIG_T::n_nodes; i++) {
                acc += x[i * CONFIG_T::n_feat + f];
            }
            if (CONFIG_T::mode == 1)
                res[f] = acc * CONFIG_T::scale();
            else
                res[f] = acc;
        }
    }
}

struct aggregate_config {
    static const unsigned n_nodes = 6;
    static const unsigned n_out = 8; // features per node
    static const unsigned reuse_factor = 1;
    static const bool self_term = false;
    typedef float adjacency_t;
    typedef float coef_t;
    typedef float accum_t;
    // static coef_t coef(): the self coefficient (GIN's 1 + eps), generated per layer
    // static graphs: propagate(x, acc) adds the constant matrix's rows (generated per layer)
};

// Neighbourhood aggregation y = A x (+ c x) over the node axis, exact in accum_t; A a constant
// (an adder tree over its non-zero entries) ...
template <class data_T, class res_T, typename CONFIG_T>
void aggregate_static(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_out], res_T res[CONFIG_T::n_nodes * CONFIG_T::n_out]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    typename CONFIG_T::accum_t acc[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = acc complete
Init:
    for (unsigned i = 0; i < CONFIG_T::n_nodes * CONFIG_T::n_out; i++) {
        acc[i] = 0;
        if (CONFIG_T::self_term)
            acc[i] += x[i] * CONFIG_T::coef();
    }
    CONFIG_T::propagate(x, acc);
Out:
    for (unsigned i = 0; i < CONFIG_T::n_nodes * CONFIG_T::n_out; i++) {
        res[i] = acc[i];
    }
}

// ... or the layer's second input (n_nodes x n_nodes, on its grid).
template <class data_T, class adj_T, class res_T, typename CONFIG_T>
void aggregate_dynamic(data_T x[CONFIG_T::n_nodes * CONFIG_T::n_out], adj_T a[CONFIG_T::n_nodes * CONFIG_T::n_nodes],
                       res_T res[CONFIG_T::n_nodes * CONFIG_T::n_out]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
Rows:
    for (unsigned i = 0; i < CONFIG_T::n_nodes; i++) {
    Channels:
        for (unsigned k = 0; k < CONFIG_T::n_out; k++) {
            typename CONFIG_T::accum_t acc = 0;
            if (CONFIG_T::self_term)
                acc += x[i * CONFIG_T::n_out + k] * CONFIG_T::coef();
        Cols:
            for (unsigned j = 0; j < CONFIG_T::n_nodes; j++) {
                acc += a[i * CONFIG_T::n_nodes + j] * x[j * CONFIG_T::n_out + k];
            }
            res[i * CONFIG_T::n_out + k] = acc;
        }
    }
}

struct slice_config {
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    static const unsigned offset = 0;
};

// One model input out of the packed request (single-input backends such as VivadoAccelerator):
// elements offset .. offset + n_out - 1, cast exactly to the input's own type.
template <class data_T, class res_T, typename CONFIG_T>
void request_slice(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        res[i] = data[CONFIG_T::offset + i];
    }
}

// ---------------------------------------------------------------- io_stream wrappers
// The graph tensors are small (a few nodes): each layer reads its whole input from the
// stream, runs the io_parallel kernel above and streams the result out.

template <class data_T, unsigned N>
void stream_to_array(hls::stream<data_T> &in, typename data_T::value_type out[N]) {
    #pragma HLS INLINE
    for (unsigned i = 0; i < N / data_T::size; i++) {
        #pragma HLS PIPELINE
        data_T pack = in.read();
        for (unsigned j = 0; j < data_T::size; j++) {
            #pragma HLS UNROLL
            out[i * data_T::size + j] = pack[j];
        }
    }
}

template <class res_T, unsigned N>
void array_to_stream(typename res_T::value_type in[N], hls::stream<res_T> &out) {
    #pragma HLS INLINE
    for (unsigned i = 0; i < N / res_T::size; i++) {
        #pragma HLS PIPELINE
        res_T pack;
        PRAGMA_DATA_PACK(pack)
        for (unsigned j = 0; j < res_T::size; j++) {
            #pragma HLS UNROLL
            pack[j] = in[i * res_T::size + j];
        }
        out.write(pack);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void gcn_static(hls::stream<data_T> &x, hls::stream<res_T> &res, typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    typename data_T::value_type xa[CONFIG_T::n_nodes * CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename res_T::value_type ra[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_nodes * CONFIG_T::n_in>(x, xa);
    gcn_static<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(xa, ra, w, b);
    array_to_stream<res_T, CONFIG_T::n_nodes * CONFIG_T::n_out>(ra, res);
}

template <class data_T, class adj_T, class res_T, typename CONFIG_T>
void gcn_dynamic(hls::stream<data_T> &x, hls::stream<adj_T> &a, hls::stream<res_T> &res,
                 typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out], typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    typename data_T::value_type xa[CONFIG_T::n_nodes * CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename adj_T::value_type aa[CONFIG_T::n_nodes * CONFIG_T::n_nodes];
    #pragma HLS ARRAY_PARTITION variable = aa complete
    typename res_T::value_type ra[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_nodes * CONFIG_T::n_in>(x, xa);
    stream_to_array<adj_T, CONFIG_T::n_nodes * CONFIG_T::n_nodes>(a, aa);
    gcn_dynamic<typename data_T::value_type, typename adj_T::value_type, typename res_T::value_type, CONFIG_T>(xa, aa, ra, w, b);
    array_to_stream<res_T, CONFIG_T::n_nodes * CONFIG_T::n_out>(ra, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void node_readout(hls::stream<data_T> &x, hls::stream<res_T> &res) {
    typename data_T::value_type xa[CONFIG_T::n_nodes * CONFIG_T::n_feat];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename res_T::value_type ra[CONFIG_T::n_rows * CONFIG_T::n_feat];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_nodes * CONFIG_T::n_feat>(x, xa);
    node_readout<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(xa, ra);
    array_to_stream<res_T, CONFIG_T::n_rows * CONFIG_T::n_feat>(ra, res);
}

template <class data_T, class tok_T, class res_T, typename CONFIG_T>
void masked_mean_pool(hls::stream<data_T> &emb, hls::stream<tok_T> &tokens, hls::stream<res_T> &res,
                      typename CONFIG_T::recip_t recip[CONFIG_T::n_tokens + 1]) {
    typename data_T::value_type ea[CONFIG_T::n_tokens * CONFIG_T::n_feat];
    #pragma HLS ARRAY_PARTITION variable = ea complete
    typename tok_T::value_type ta[CONFIG_T::n_tokens];
    #pragma HLS ARRAY_PARTITION variable = ta complete
    typename res_T::value_type ra[CONFIG_T::n_feat];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_tokens * CONFIG_T::n_feat>(emb, ea);
    stream_to_array<tok_T, CONFIG_T::n_tokens>(tokens, ta);
    masked_mean_pool<typename data_T::value_type, typename tok_T::value_type, typename res_T::value_type, CONFIG_T>(
        ea, ta, ra, recip);
    array_to_stream<res_T, CONFIG_T::n_feat>(ra, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void fixed_quant(hls::stream<data_T> &x, hls::stream<res_T> &res) {
    typename data_T::value_type xa[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename res_T::value_type ra[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_in>(x, xa);
    fixed_quant<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(xa, ra);
    array_to_stream<res_T, CONFIG_T::n_in>(ra, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void request_slice(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typename data_T::value_type da[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = da complete
    typename res_T::value_type ra[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_in>(data, da);
    request_slice<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(da, ra);
    array_to_stream<res_T, CONFIG_T::n_out>(ra, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void node_dense(hls::stream<data_T> &x, hls::stream<res_T> &res, typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    typename data_T::value_type xa[CONFIG_T::n_nodes * CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename res_T::value_type ra[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_nodes * CONFIG_T::n_in>(x, xa);
    node_dense<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(xa, ra, w, b);
    array_to_stream<res_T, CONFIG_T::n_nodes * CONFIG_T::n_out>(ra, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void global_pool(hls::stream<data_T> &x, hls::stream<res_T> &res) {
    typename data_T::value_type xa[CONFIG_T::n_nodes * CONFIG_T::n_feat];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename res_T::value_type ra[CONFIG_T::n_feat];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_nodes * CONFIG_T::n_feat>(x, xa);
    global_pool<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(xa, ra);
    array_to_stream<res_T, CONFIG_T::n_feat>(ra, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void aggregate_static(hls::stream<data_T> &x, hls::stream<res_T> &res) {
    typename data_T::value_type xa[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename res_T::value_type ra[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_nodes * CONFIG_T::n_out>(x, xa);
    aggregate_static<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(xa, ra);
    array_to_stream<res_T, CONFIG_T::n_nodes * CONFIG_T::n_out>(ra, res);
}

template <class data_T, class adj_T, class res_T, typename CONFIG_T>
void aggregate_dynamic(hls::stream<data_T> &x, hls::stream<adj_T> &a, hls::stream<res_T> &res) {
    typename data_T::value_type xa[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = xa complete
    typename adj_T::value_type aa[CONFIG_T::n_nodes * CONFIG_T::n_nodes];
    #pragma HLS ARRAY_PARTITION variable = aa complete
    typename res_T::value_type ra[CONFIG_T::n_nodes * CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = ra complete
    stream_to_array<data_T, CONFIG_T::n_nodes * CONFIG_T::n_out>(x, xa);
    stream_to_array<adj_T, CONFIG_T::n_nodes * CONFIG_T::n_nodes>(a, aa);
    aggregate_dynamic<typename data_T::value_type, typename adj_T::value_type, typename res_T::value_type, CONFIG_T>(
        xa, aa, ra);
    array_to_stream<res_T, CONFIG_T::n_nodes * CONFIG_T::n_out>(ra, res);
}

} // namespace nnet

#endif
