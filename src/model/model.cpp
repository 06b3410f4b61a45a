// model: forward, backward (the forward read in reverse, one call per line) and incremental step.
#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "ops/cross_entropy.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/gelu.h"
#include "ops/relu_squared.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "util/threads.h"

namespace spectral {

DropoutDraw dropout_for_step(double p, uint64_t run_seed, uint64_t step, uint64_t first_row) {
  return {float(p), dropout_seed(run_seed, step, 0), first_row};
}

template <typename T>
Model<T>::Model(const ModelConfig& cfg, int vocab_size) : Model(cfg, vocab_size, LayoutOnly{}) {
  params.assign(layout_.total(), T(0));  // grads: on the first zero_grad() or backward()
}

template <typename T>
ParamLayout Model<T>::layout_for(const ModelConfig& cfg, int vocab_size) {
  return Model(cfg, vocab_size, LayoutOnly{}).layout_;
}

template <typename T>
size_t Model<T>::activation_bytes_for(const ModelConfig& cfg, int vocab_size, int B, int Tn) {
  Model m(cfg, vocab_size, LayoutOnly{});
  m.B_ = B;
  m.T_ = Tn;
  m.take_buffers();  // the arenas are empty: a counting pass
  return m.saved_.counted_bytes() + m.scratch_.counted_bytes();
}

template <typename T>
Model<T>::Model(const ModelConfig& cfg, int vocab_size, LayoutOnly)
    : cfg_(cfg), V_(vocab_size), d_(cfg.d_model), hidden_(cfg.mlp_ratio * cfg.d_model), relu2_(cfg.activation == "relu2") {
  if (V_ <= 0) throw std::invalid_argument("model: vocabulary is empty");
  const int L = cfg.n_layers;
  if (cfg_.mixer.size() == 1) cfg_.mixer.assign(L, cfg_.mixer[0]);
  if ((int)cfg_.mixer.size() != L) throw std::invalid_argument("model: mixer list length != n_layers");
  const double std_d = 1.0 / std::sqrt(double(d_)), std_h = 1.0 / std::sqrt(double(hidden_));
  wte_ = layout_.add("wte", {V_, d_}, Init::Normal, 0.02, true);
  if (cfg.pos_emb == "learned") wpe_ = layout_.add("wpe", {cfg.context, d_}, Init::Normal, 0.02, false);
  layers_.resize(L);
  for (int i = 0; i < L; i++) {
    Layer& ly = layers_[i];
    const std::string p = "layers." + std::to_string(i) + ".";
    ly.ln1_w = layout_.add(p + "ln1.weight", {d_}, Init::Ones, 0, false);
    ly.mixer = make_mixer<T>(cfg_.mixer[i], cfg_);
    ly.mixer->declare(layout_, p + "mixer.");
    ly.ln2_w = layout_.add(p + "ln2.weight", {d_}, Init::Ones, 0, false);
    ly.w1 = layout_.add(p + "mlp.w1", {hidden_, d_}, Init::Normal, std_d, true);
    ly.b1 = layout_.add(p + "mlp.b1", {hidden_}, Init::Zeros, 0, false);
    ly.w2 = layout_.add(p + "mlp.w2", {d_, hidden_}, Init::Normal, std_h / std::sqrt(2.0 * L), true);
    ly.b2 = layout_.add(p + "mlp.b2", {d_}, Init::Zeros, 0, false);
  }
  lnf_w_ = layout_.add("lnf.weight", {d_}, Init::Ones, 0, false);
  if (!cfg.tie_embeddings) w_lm_ = layout_.add("lm_head", {V_, d_}, Init::Normal, 0.02, true);
}

template <typename T>
size_t Model<T>::num_params() const {
  size_t n = 0;
  for (const auto& s : layout_.specs()) n += s.size;
  return n;
}

template <typename T>
void Model<T>::activation_forward(T* out, const T* h, size_t n) const {
  if (relu2_)
    relu_squared_forward(out, h, n);
  else
    gelu_forward(out, h, n);
}

template <typename T>
void Model<T>::activation_backward(T* din, const T* dout, const T* h, size_t n) const {
  if (relu2_)
    relu_squared_backward(din, dout, h, n);
  else
    gelu_backward(din, dout, h, n);
}

template <typename T>
void Model<T>::set_weights_change_every_step(bool yes) {
  for (auto& ly : layers_) ly.mixer->set_weights_change_every_step(yes);
}

template <typename T>
void Model<T>::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  init_params(params.data(), layout_, rng);
  for (auto& ly : layers_) ly.mixer->init_custom(params.data(), rng);
  if (cfg_.zero_init_out) {  // after the draws, so that every other tensor starts as without the key
    for (const auto& s : layout_.specs()) {
      const std::string& n = s.name;
      const auto ends = [&](const std::string& tail) {
        return n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0;
      };
      if (ends(".mixer.w_out") || ends(".mlp.w2")) std::fill(params.begin() + s.offset, params.begin() + s.offset + s.size, T(0));
    }
  }
}

template <typename T>
const T* Model<T>::lm_weight() const {
  return params.data() + (cfg_.tie_embeddings ? wte_ : w_lm_);
}

template <typename T>
void Model<T>::take_buffers() {
  const size_t n = (size_t)B_ * T_ * d_, nt = (size_t)B_ * T_, nh = (size_t)B_ * T_ * hidden_;
  const double keep_bytes = double(layers_.size()) * (2 * n + nh) * sizeof(T);
  const bool keep = keep_bytes <= double(cfg_.keep_activations_mib) * 1048576.0;
  for (auto& ly : layers_) {
    ly.resid_in = saved_.take(n);
    ly.rstd1 = saved_.take(nt);
    ly.resid_mid = saved_.take(n);
    ly.rstd2 = saved_.take(nt);
    ly.h = saved_.take(nh);
    ly.ln1 = keep ? saved_.take(n) : nullptr;
    ly.ln2 = keep ? saved_.take(n) : nullptr;
    ly.act = keep ? saved_.take(nh) : nullptr;
    scratch_.rewind();
    ly.mixer->bind(saved_, scratch_, B_, T_);
  }
  resid_out_ = saved_.take(n);
  lnf_ = saved_.take(n);
  rstdf_ = saved_.take(nt);
  logits_ = saved_.take(nt * V_);
  probs_ = saved_.take(nt * V_);
  losses_ = saved_.take(nt);
  tmp_ = saved_.take(n);
  ln_ = saved_.take(n);
  rstd_tmp_ = saved_.take(nt);
  dresid_ = saved_.take(n);
  dln_ = saved_.take(n);
  da_ = saved_.take(nh);
  dh_ = saved_.take(nh);
  dlogits_ = saved_.take(nt * V_);
}

template <typename T>
void Model<T>::bind(int B, int Tn) {
  if (B == B_ && Tn == T_) return;
  if (B <= 0 || Tn <= 0 || Tn > cfg_.context)
    throw std::invalid_argument("model: cannot bind B=" + std::to_string(B) + ", T=" + std::to_string(Tn) +
                                " (context " + std::to_string(cfg_.context) + ")");
  B_ = B;
  T_ = Tn;
  bind_arenas(saved_, scratch_, [&] { take_buffers(); });
}

template <typename T>
uint64_t Model<T>::drop_seed(int site) const {
  return dropout_seed(drop_.seed, 0, uint64_t(site));
}

template <typename T>
double Model<T>::forward(const int32_t* tokens, const int32_t* targets, int B, int Tn, DropoutDraw dropout) {
  if (!(dropout.p >= 0 && dropout.p < 1)) throw std::invalid_argument("model: dropout must be in [0, 1)");
  bind(B, Tn);
  drop_ = dropout;
  const bool drop = dropout.p > 0;
  const int N = B * Tn;
  const size_t n = (size_t)N * d_;
  tokens_.assign(tokens, tokens + N);
  have_targets_ = targets != nullptr;
  if (targets) targets_.assign(targets, targets + N);
  const T* P = params.data();
  // x = E[tok] (+ P[pos])
  T* x = layers_.empty() ? resid_out_ : layers_[0].resid_in;
  embedding_forward(x, tokens, P + wte_, wpe_ ? P + wpe_ : (const T*)nullptr, B, Tn, d_);
  if (drop) dropout_forward(x, x, drop_seed(0), drop_.p, n, drop_first());
  for (size_t i = 0; i < layers_.size(); i++) {
    Layer& ly = layers_[i];
    T* next = i + 1 < layers_.size() ? layers_[i + 1].resid_in : resid_out_;
    // x = x + Mixer(RMSNorm(x))
    T* ln1 = ly.ln1 ? ly.ln1 : ln_;
    rmsnorm_forward(ln1, ly.rstd1, ly.resid_in, P + ly.ln1_w, N, d_);
    ly.mixer->forward(tmp_, ln1, P);
    if (drop) dropout_forward(tmp_, tmp_, drop_seed(1 + 2 * int(i)), drop_.p, n, drop_first());
    std::memcpy(ly.resid_mid, ly.resid_in, n * sizeof(T));
    add_inplace(ly.resid_mid, tmp_, n);
    // x = x + MLP(RMSNorm(x))
    T* ln2 = ly.ln2 ? ly.ln2 : ln_;
    rmsnorm_forward(ln2, ly.rstd2, ly.resid_mid, P + ly.ln2_w, N, d_);
    linear_forward(ly.h, ln2, P + ly.w1, P + ly.b1, N, d_, hidden_);
    T* act = ly.act ? ly.act : da_;  // act(h): kept for backward, or only until the next product
    activation_forward(act, ly.h, (size_t)N * hidden_);
    linear_forward(tmp_, act, P + ly.w2, P + ly.b2, N, hidden_, d_);
    if (drop) dropout_forward(tmp_, tmp_, drop_seed(2 + 2 * int(i)), drop_.p, n, drop_first());
    std::memcpy(next, ly.resid_mid, n * sizeof(T));
    add_inplace(next, tmp_, n);
  }
  rmsnorm_forward(lnf_, rstdf_, resid_out_, P + lnf_w_, N, d_);
  linear_forward(logits_, lnf_, lm_weight(), (const T*)nullptr, N, d_, V_);
  if (!targets) return 0.0;
  return cross_entropy_forward(losses_, probs_, logits_, targets, N, V_) / N;
}

template <typename T>
void Model<T>::zero_grad() {
  if (grads.size() != params.size())
    grads.assign(params.size(), T(0));
  else
    zero_fill(grads.data(), grads.size());
}

template <typename T>
void Model<T>::backward() {
  if (!have_targets_) throw std::logic_error("model: backward() needs a forward() with targets");
  const int B = B_, Tn = T_, N = B * Tn;
  const size_t n = (size_t)N * d_;
  if (grads.size() != params.size()) zero_grad();  // the first backward: nothing to accumulate into yet
  const T* P = params.data();
  T* G = grads.data();
  const bool drop = drop_.p > 0;
  // the gradient reaching a branch output through its dropout mask (tmp_), or dresid_ itself
  auto through_dropout = [&](int site) -> const T* {
    if (!drop) return dresid_;
    zero_fill(tmp_, n);
    dropout_backward(tmp_, dresid_, drop_seed(site), drop_.p, n, drop_first());
    return tmp_;
  };
  zero_fill(dlogits_, (size_t)N * V_);
  zero_fill(dresid_, n);
  zero_fill(dln_, n);
  cross_entropy_backward(dlogits_, probs_, targets_.data(), T(1.0 / N), N, V_);
  linear_backward(dln_, G + (cfg_.tie_embeddings ? wte_ : w_lm_), (T*)nullptr, dlogits_, lnf_, lm_weight(), N, d_, V_);
  rmsnorm_backward(dresid_, G + lnf_w_, dln_, resid_out_, P + lnf_w_, rstdf_, N, d_);
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& ly = layers_[i];
    // MLP branch (dresid also flows on unchanged through the residual). The normalized input and
    // act(h) come from forward when it kept them (model.keep_activations_mib); else they are
    // recomputed here (into ln_ and dh_): two elementwise passes that save 2·d + mlp_ratio·d values
    // per position and layer.
    const size_t nh = (size_t)N * hidden_;
    const T* ln2 = ly.ln2;
    if (!ln2) {
      rmsnorm_forward(ln_, rstd_tmp_, ly.resid_mid, P + ly.ln2_w, N, d_);
      ln2 = ln_;
    }
    const T* act = ly.act;
    if (!act) {
      activation_forward(dh_, ly.h, nh);
      act = dh_;
    }
    zero_fill(da_, nh);
    linear_backward(da_, G + ly.w2, G + ly.b2, through_dropout(2 + 2 * int(i)), act, P + ly.w2, N, hidden_, d_);
    zero_fill(dh_, nh);
    activation_backward(dh_, da_, ly.h, nh);
    zero_fill(dln_, n);
    linear_backward(dln_, G + ly.w1, G + ly.b1, dh_, ln2, P + ly.w1, N, d_, hidden_);
    rmsnorm_backward(dresid_, G + ly.ln2_w, dln_, ly.resid_mid, P + ly.ln2_w, ly.rstd2, N, d_);
    // mixer branch
    const T* ln1 = ly.ln1;
    if (!ln1) {
      rmsnorm_forward(ln_, rstd_tmp_, ly.resid_in, P + ly.ln1_w, N, d_);
      ln1 = ln_;
    }
    zero_fill(dln_, n);
    ly.mixer->backward(dln_, G, through_dropout(1 + 2 * int(i)), ln1, P);
    rmsnorm_backward(dresid_, G + ly.ln1_w, dln_, ly.resid_in, P + ly.ln1_w, ly.rstd1, N, d_);
  }
  embedding_backward(G + wte_, wpe_ ? G + wpe_ : (T*)nullptr, through_dropout(0), tokens_.data(), B, Tn, d_);
}

template <typename T>
void Model<T>::begin_incremental(int max_len) {
  if (max_len <= 0 || max_len > cfg_.context)
    throw std::invalid_argument("model: incremental length must be in [1, context]");
  for (auto& ly : layers_) ly.mixer->begin_incremental(max_len);
  inc_.assign((size_t)4 * d_ + 2 * hidden_ + V_ + 1, T(0));
}

template <typename T>
const T* Model<T>::step(int32_t token, int pos) {
  const T* P = params.data();
  T* x = inc_.data();
  T* ln = x + d_;
  T* out = ln + d_;
  T* h = out + d_;
  T* a = h + hidden_;
  T* logits = a + hidden_;
  T* rstd = logits + V_;
  embedding_forward(x, &token, P + wte_, wpe_ ? P + wpe_ : (const T*)nullptr, 1, 1, d_, pos);
  for (auto& ly : layers_) {
    rmsnorm_forward(ln, rstd, x, P + ly.ln1_w, 1, d_);
    ly.mixer->step(out, ln, pos, P);
    add_inplace(x, out, (size_t)d_);
    rmsnorm_forward(ln, rstd, x, P + ly.ln2_w, 1, d_);
    linear_forward(h, ln, P + ly.w1, P + ly.b1, 1, d_, hidden_);
    activation_forward(a, h, (size_t)hidden_);
    linear_forward(out, a, P + ly.w2, P + ly.b2, 1, hidden_, d_);
    add_inplace(x, out, (size_t)d_);
  }
  rmsnorm_forward(ln, rstd, x, P + lnf_w_, 1, d_);
  linear_forward(logits, ln, lm_weight(), (const T*)nullptr, 1, d_, V_);
  return logits;
}

template <typename T>
size_t Model<T>::stream_bytes(int max_len) const {
  size_t n = ((size_t)4 * d_ + 2 * hidden_ + V_ + 1) * sizeof(T);
  for (const auto& ly : layers_) n += ly.mixer->stream_bytes(max_len);
  return n;
}

template <typename T>
void Model<T>::begin_streams(int S) {
  if (S < 1) throw std::invalid_argument("model: begin_streams needs at least one stream");
  if (inc_.empty()) throw std::logic_error("model: begin_streams needs begin_incremental or prefill first");
  streams_ = S;
  for (auto& ly : layers_) ly.mixer->begin_streams(S);
  st_.assign((size_t)S * inc_.size(), T(0));
}

template <typename T>
void Model<T>::store_stream(int i) {
  if (i < 0 || i >= streams_) throw std::out_of_range("model: stream outside begin_streams' count");
  for (auto& ly : layers_) ly.mixer->store_stream(i);
}

// step() over S rows: every product is a matrix product (linear_forward over the rows). The streams
// are split into one group per thread, each group stepped through every layer on its own thread
// (its products single-threaded inside the region): one parallel region per character instead of
// one per product.
template <typename T>
const T* Model<T>::step_streams(const int32_t* tokens, int pos) {
  const int S = streams_;
  const T* P = params.data();
  for (auto& ly : layers_) ly.mixer->prepare_streams(pos, P);
  const int groups = std::max(1, std::min(num_threads(), S / 2));
  const int per = (S + groups - 1) / groups;
#pragma omp parallel for schedule(static) num_threads(groups) if (groups > 1)
  for (int g = 0; g < groups; g++) {
    const int lo = g * per, n = std::min(per, S - lo);
    if (n > 0) step_rows(tokens, pos, lo, n);
  }
  return st_.data() + (size_t)S * (3 * d_ + 2 * hidden_);
}

template <typename T>
void Model<T>::step_rows(const int32_t* tokens, int pos, int lo, int n) {
  const int S = streams_;
  const T* P = params.data();
  const size_t Sd = (size_t)S * d_, Sh = (size_t)S * hidden_, nd = (size_t)n * d_, nh = (size_t)n * hidden_;
  T* x_all = st_.data();
  T* ln_all = x_all + Sd;
  T* out_all = ln_all + Sd;
  T* h = out_all + Sd + (size_t)lo * hidden_;
  T* a = out_all + Sd + Sh + (size_t)lo * hidden_;
  T* logits = out_all + Sd + 2 * Sh + (size_t)lo * V_;
  T* rstd = out_all + Sd + 2 * Sh + (size_t)S * V_ + lo;
  T* x = x_all + (size_t)lo * d_;
  T* ln = ln_all + (size_t)lo * d_;
  T* out = out_all + (size_t)lo * d_;
  embedding_forward(x, tokens + lo, P + wte_, wpe_ ? P + wpe_ : (const T*)nullptr, n, 1, d_, pos);
  for (auto& ly : layers_) {
    rmsnorm_forward(ln, rstd, x, P + ly.ln1_w, n, d_);
    ly.mixer->step_streams(out_all, ln_all, pos, P, lo, n);
    add_inplace(x, out, nd);
    rmsnorm_forward(ln, rstd, x, P + ly.ln2_w, n, d_);
    linear_forward(h, ln, P + ly.w1, P + ly.b1, n, d_, hidden_);
    activation_forward(a, h, nh);
    linear_forward(out, a, P + ly.w2, P + ly.b2, n, hidden_, d_);
    add_inplace(x, out, nd);
  }
  rmsnorm_forward(ln, rstd, x, P + lnf_w_, n, d_);
  linear_forward(logits, ln, lm_weight(), (const T*)nullptr, n, d_, V_);
}

// Rows of the MLP computed at a time during a prefill (its hidden activations are 4d per row).
static constexpr int kPrefillRows = 2048;

// The arenas are kept while n does not change; the mixers are bound again on every call (a mixer
// may cache what its memory holds, e.g. fft's kernel spectra, and the layers overwrite each other's).
template <typename T>
void Model<T>::bind_prefill(int n) {
  auto take = [&] {
    const size_t nd = (size_t)n * d_, rows = (size_t)std::min(n, kPrefillRows);
    pre_act_.rewind();
    pre_x_ = pre_act_.take(nd);
    pre_ln_ = pre_act_.take(nd);
    pre_rstd_ = pre_act_.take(n);
    pre_out_ = pre_act_.take(nd);
    pre_h_ = pre_act_.take(rows * hidden_);
    pre_a_ = pre_act_.take(rows * hidden_);
    for (auto& ly : layers_) {  // every layer gets the same memory
      pre_saved_.rewind();
      pre_scratch_.rewind();
      ly.mixer->bind(pre_saved_, pre_scratch_, 1, n);
    }
  };
  if (pre_n_ != n) {
    for (Arena<T>* a : {&pre_act_, &pre_saved_, &pre_scratch_}) a->reset();
    take();  // counting pass
    for (Arena<T>* a : {&pre_act_, &pre_saved_, &pre_scratch_}) a->allocate();
  }
  take();  // handing-out pass
  pre_n_ = n;
  B_ = T_ = 0;  // the mixers now point into the prefill's arenas: the next forward() rebinds
}

// The forward of Model::forward without dropout, layer by layer: each mixer's state is filled by its
// prefill before the next layer reuses the memory. After the last mixer only the last row goes on.
template <typename T>
const T* Model<T>::prefill(const int32_t* tokens, int n, int max_len) {
  if (n < 1 || n > max_len) throw std::invalid_argument("model: prefill length must be in [1, max_len]");
  begin_incremental(max_len);
  bind_prefill(n);
  const T* P = params.data();
  T* x = pre_x_;
  embedding_forward(x, tokens, P + wte_, wpe_ ? P + wpe_ : (const T*)nullptr, 1, n, d_);
  for (size_t li = 0; li < layers_.size(); li++) {
    auto& ly = layers_[li];
    // the last layer's state needs all its inputs, its output only the last row (the logits')
    const int r0 = li + 1 < layers_.size() ? 0 : n - 1;
    const size_t off = (size_t)r0 * d_, rd = (size_t)(n - r0) * d_;
    rmsnorm_forward(pre_ln_, pre_rstd_, x, P + ly.ln1_w, n, d_);
    ly.mixer->prefill(pre_out_, pre_ln_, P, r0);
    add_inplace(x + off, pre_out_ + off, rd);
    rmsnorm_forward(pre_ln_ + off, pre_rstd_ + r0, x + off, P + ly.ln2_w, n - r0, d_);
    for (int c0 = r0; c0 < n; c0 += kPrefillRows) {
      const int rows = std::min(kPrefillRows, n - c0);
      linear_forward(pre_h_, pre_ln_ + (size_t)c0 * d_, P + ly.w1, P + ly.b1, rows, d_, hidden_);
      activation_forward(pre_a_, pre_h_, (size_t)rows * hidden_);
      linear_forward(pre_out_ + (size_t)c0 * d_, pre_a_, P + ly.w2, P + ly.b2, rows, hidden_, d_);
    }
    add_inplace(x + off, pre_out_ + off, rd);
  }
  // logits of the last position only, into step()'s logits row
  T* ln = inc_.data() + d_;
  T* logits = inc_.data() + 4 * (size_t)d_ + 2 * (size_t)hidden_;
  T* rstd = logits + V_;
  rmsnorm_forward(ln, rstd, x + (size_t)(n - 1) * d_, P + lnf_w_, 1, d_);
  linear_forward(logits, ln, lm_weight(), (const T*)nullptr, 1, d_, V_);
  return logits;
}

template class Model<float>;
template class Model<double>;

}  // namespace spectral
