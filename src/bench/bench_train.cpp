// bench_train: the training step of train/trainer (forward, zero_grad, backward, gradient norm and
// clip, the optimizer of train.optimizer) on random tokens, timed step by step; FLOPs counted analytically; the sgemm peak
// measured through spectral::gemm on the same threads, before and after the steps.
#include "bench/bench_train.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

#include <omp.h>

#include "model/mixer_registry.h"
#include "ops/gemm.h"
#include "model/model.h"
#include "train/optimizer.h"
#include "train/replicas.h"
#include "util/distributed.h"
#include "util/errors.h"
#include "util/threads.h"

namespace spectral::bench {

// FLOP count of one training step, N = B·T tokens, d = d_model, h = mlp_ratio·d:
//
//   dense products: 2·M·N·K per product of (M,K)·(K,N), times 3 for forward + backward (the
//   backward computes ∂input and ∂weight, each a product of the same size). Per layer: the MLP,
//   2·N·d·h · 2, and the mixer's projections (its registry entry's flops().dense, forward); plus
//   the LM head 2·N·d·V.
//   mixer cores, forward + backward, per layer: the registry entry's flops().core (each mixer's
//   model/mixer_<name>_spec.cpp says what it counts).
//   Not counted: elementwise passes (RMSNorm, GELU, residuals, gate products, softmax, sin/cos,
//   cross-entropy), embeddings, the gradient norm and the optimizer (AdamW; Muon's Newton–Schulz
//   products too) — their time is in the step all the same.
FlopCount count_train_flops(const ModelConfig& mc, int V, int B, int T) {
  FlopCount f;
  const double N = double(B) * T, d = mc.d_model, h = double(mc.mlp_ratio) * mc.d_model;
  const int L = mc.n_layers;
  std::map<std::string, int> per_kind;
  for (int i = 0; i < L; i++) {
    const std::string& m = mc.mixer.size() == 1 ? mc.mixer[0] : mc.mixer[i];
    per_kind[m]++;
    const MixerSpec* spec = find_mixer(m);
    if (!spec) throw std::invalid_argument("bench train: unknown mixer \"" + m + "\"");
    const MixerFlops mf = spec->bench.flops(mc, B, T);
    f.matmul += 3 * (mf.dense + 2 * N * d * h * 2);
    f.mixer_core += mf.core;
  }
  f.matmul += 3 * 2 * N * d * V;
  std::string kinds;
  for (const auto& [k, n] : per_kind) kinds += (kinds.empty() ? "" : ", ") + std::to_string(n) + "x " + k;
  f.notes.push_back(fmt("dense products (MLP, mixer projections, LM head), 3 x 2·M·N·K: %.3f GFLOP", f.matmul / 1e9));
  f.notes.push_back(fmt("mixer cores [%s], forward+backward: %.3f GFLOP", kinds.c_str(), f.mixer_core / 1e9));
  f.notes.push_back("not counted: RMSNorm, GELU, residuals, gates, softmax, sin/cos, cross-entropy, the optimizer");
  return f;
}

// The matrix products of one recorded step, run again alone on buffers of the same shapes: the time
// the step would take if it were nothing but its products. Products that ran inside a parallel region
// (one per thread, e.g. attention's tiles) are replayed the same way, a run of them shared among the
// threads; the others go through gemm(), which splits them over the threads as in the step.
struct ProductReplay {
  size_t products = 0;
  double gflop = 0;
  double ms = 0;  // median over the repeats
};

static ProductReplay replay_products(const std::vector<GemmShape>& shapes, int repeats) {
  ProductReplay r;
  r.products = shapes.size();
  size_t na = 1, nb = 1, nc = 1;
  for (const GemmShape& g : shapes) {
    na = std::max(na, (size_t)g.M * g.K);
    nb = std::max(nb, (size_t)g.K * g.N);
    nc = std::max(nc, (size_t)g.M * g.N);
    r.gflop += 2.0 * g.M * g.N * g.K / 1e9;
  }
  const int threads = num_threads();
  std::vector<float> A(na), B(nb), C(nc * threads);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (float& v : A) v = u(rng);
  for (float& v : B) v = u(rng);
  for (float& v : C) v = u(rng);
  auto run = [&](const GemmShape& g, float* c) {
    gemm(g.transA, g.transB, g.M, g.N, g.K, 1.0f, A.data(), g.transA ? g.M : g.K, B.data(), g.transB ? g.K : g.N,
         g.beta, c, g.N);
  };
  std::vector<double> times;
  for (int rep = 0; rep < repeats + 1; rep++) {
    const double t0 = now_seconds();
    for (size_t i = 0; i < shapes.size();) {
      if (!shapes[i].in_parallel) {
        run(shapes[i++], C.data());
        continue;
      }
      size_t j = i;
      while (j < shapes.size() && shapes[j].in_parallel) j++;
#pragma omp parallel for schedule(dynamic) num_threads(threads)
      for (long k = (long)i; k < (long)j; k++) run(shapes[k], C.data() + nc * omp_get_thread_num());
      i = j;
    }
    if (rep > 0) times.push_back(1e3 * (now_seconds() - t0));  // the first is a warm-up
  }
  r.ms = median(times);
  return r;
}

int run_train_bench(const TrainBenchOptions& o) {
  const ModelConfig& mc = o.cfg.model;
  const TrainConfig& tc = o.cfg.train;
  if (o.vocab < 2) throw InputError("bench train: --vocab must be >= 2");
  if (o.steps < 1 || o.warmup < 0) throw InputError("bench train: --steps must be >= 1 and --warmup >= 0");
  // under mpirun: data parallel as in training (each process takes its share of the batch and
  // the gradients are summed every step); rank 0 prints the table
  const Communicator& comm = world();
  if (tc.batch_size % comm.size != 0) {
    mark_failure_shared();  // every process finds it; rank 0 says it
    if (!comm.root()) throw QuietExit{2};
    throw InputError("train.batch_size " + std::to_string(tc.batch_size) + " is not divisible by the " +
                     std::to_string(comm.size) + " processes");
  }
  if (!comm.root() && !std::freopen("/dev/null", "w", stdout)) throw IoError("bench train: cannot silence stdout");
  const int B = tc.batch_size / comm.size, T = mc.context, V = o.vocab;
  const int threads = num_threads();
  std::printf("%s\n", machine_line(threads).c_str());
  if (comm.size > 1)
    std::printf("%d processes x %d threads; global batch %d = %d sequences per process\n", comm.size, threads,
                tc.batch_size, B);

  Model<float> model(mc, V);
  model.init(o.seed);
  model.set_weights_change_every_step(true);  // as training does
  Optimizer opt(model.layout(), tc, mc.d_model);
  const int R = replicas_for(tc.replicas, B, threads);
  if (B % R != 0)
    throw InputError("bench train: train.replicas " + std::to_string(R) + " does not divide the " +
                     std::to_string(B) + " sequences of each step");
  std::unique_ptr<ReplicaSet> replicas;
  if (R > 1) replicas = std::make_unique<ReplicaSet>(model, R);
  std::string mixers;
  {
    std::map<std::string, int> n;
    std::vector<std::string> order;
    for (int i = 0; i < mc.n_layers; i++) {
      const std::string m = describe_layer(mc.mixer.size() == 1 ? mc.mixer[0] : mc.mixer[i], mc);
      if (!n[m]++) order.push_back(m);
    }
    for (const auto& m : order) mixers += (mixers.empty() ? "" : ", ") + std::to_string(n[m]) + "x " + m;
  }
  std::printf("model: %s; d=%d, layers=%d, heads=%d, context T=%d, batch B=%d, vocabulary V=%d (random tokens), "
              "%zu parameters\n",
              mixers.c_str(), mc.d_model, mc.n_layers, mc.n_heads, T, B, V, model.num_params());
  std::printf("step = forward + zero_grad + backward + gradient norm/clip + %s (as train/trainer); %d warm-up "
              "steps, %d timed\n",
              tc.optimizer == "muon" ? "Muon (AdamW for the rest)" : "AdamW", o.warmup, o.steps);
  if (replicas)
    std::printf("%d replicas x %d sequences, a thread each: forward and backward run in one region (timed together, "
                "with the average of the replicas' gradients); no replay of the products\n",
                R, B / R);
  std::fflush(stdout);

  TimingOptions peak_timing;
  peak_timing.warmup = 2;
  peak_timing.repeats = 10;
  peak_timing.min_total_s = 0.3;
  peak_timing.budget_s = 3;
  const PeakResult peak_before = measure_sgemm_peak(o.peak_n, peak_timing);

  std::mt19937_64 rng(o.seed * 7919 + 3);
  std::uniform_int_distribution<int32_t> tok(0, V - 1);
  std::vector<int32_t> x((size_t)B * T), y((size_t)B * T);
  std::vector<double> fwd_ms, bwd_ms, red_ms, upd_ms, step_ms;
  double loss = 0;
  for (int s = 0; s < o.warmup + o.steps; s++) {
    for (auto& v : x) v = tok(rng);
    for (auto& v : y) v = tok(rng);
    const double t0 = now_seconds();
    double t1 = NAN;
    if (replicas) {
      loss = replicas->forward_backward(x.data(), y.data(), B, T, dropout_for_step(mc.dropout, o.seed, uint64_t(s)));
    } else {
      loss = model.forward(x.data(), y.data(), B, T, dropout_for_step(mc.dropout, o.seed, uint64_t(s)));
      t1 = now_seconds();
      model.zero_grad();
      model.backward();
    }
    const double t2 = now_seconds();
    comm.sum(model.grads.data(), model.grads.size());
    const double t2r = now_seconds();
    const double norm = global_grad_norm(model.grads) / comm.size;
    const double scale = (tc.grad_clip > 0 && norm > tc.grad_clip) ? tc.grad_clip / norm : 1.0;
    opt.update(model.params, model.grads, learning_rate(tc, s), s + 1, scale / comm.size);
    if (replicas) replicas->sync_weights();
    const double t3 = now_seconds();
    if (!std::isfinite(loss) || !std::isfinite(norm))
      throw NumericalError("bench train: non-finite loss or gradient at step " + std::to_string(s + 1));
    if (s < o.warmup) continue;
    if (!replicas) fwd_ms.push_back(1e3 * (t1 - t0));
    bwd_ms.push_back(1e3 * (t2 - (replicas ? t0 : t1)));
    red_ms.push_back(1e3 * (t2r - t2));
    upd_ms.push_back(1e3 * (t3 - t2r));
    step_ms.push_back(1e3 * (t3 - t0));
  }
  // one more step with its products recorded, then the products replayed alone
  ProductReplay replay;
  if (o.replay && !replicas) {
    std::vector<GemmShape> shapes;
    record_gemm_shapes(&shapes);
    model.forward(x.data(), y.data(), B, T, dropout_for_step(mc.dropout, o.seed, uint64_t(o.warmup + o.steps)));
    model.zero_grad();
    model.backward();
    record_gemm_shapes(nullptr);
    replay = replay_products(shapes, 5);
  }
  const PeakResult peak_after = measure_sgemm_peak(o.peak_n, peak_timing);
  std::printf("activation arenas: %.1f MiB (saved for backward + scratch)\n", model.activation_bytes() / 1048576.0);
  const double peak = std::max(peak_before.gflops, peak_after.gflops);

  double mean_step = 0;
  for (double v : step_ms) mean_step += v;
  mean_step /= step_ms.size();
  const double med_step = median(step_ms);
  const double tokens = double(B) * T;
  const FlopCount fl = count_train_flops(mc, V, B, T);
  const double gflops = fl.total() / (med_step * 1e-3) / 1e9;

  std::printf("\n");
  Table t({"figure", "median", "mean", "note"});
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double e : v) s += e;
    return s / v.size();
  };
  t.add({"ms/step", num(med_step), num(mean_step), ""});
  if (replicas) {
    t.add({"  forward+backward ms", num(median(bwd_ms)), num(mean(bwd_ms)),
           fmt("%d replicas on their threads, incl. cross-entropy, zero_grad, averaging the gradients", R)});
  } else {
    t.add({"  forward ms", num(median(fwd_ms)), num(mean(fwd_ms)), "incl. cross-entropy"});
    t.add({"  backward ms", num(median(bwd_ms)), num(mean(bwd_ms)), "incl. zero_grad"});
  }
  if (comm.size > 1)
    t.add({"  all-reduce ms", num(median(red_ms)), num(mean(red_ms)),
           fmt("%.1f%% of the step; %.2f MB of gradients", 100 * median(red_ms) / med_step,
               model.grads.size() * 4.0 / 1e6)});
  t.add({"  update ms", num(median(upd_ms)), num(mean(upd_ms)),
         tc.optimizer == "muon" ? "gradient norm + Muon (Newton-Schulz products not counted) / AdamW" : "gradient norm + AdamW"});
  t.add({comm.size > 1 ? "tokens/s per process" : "tokens/s", num(tokens / (med_step * 1e-3)),
         num(tokens / (mean_step * 1e-3)), fmt("%.0f tokens/step", tokens)});
  if (comm.size > 1)
    t.add({"tokens/s, all processes", num(comm.size * tokens / (med_step * 1e-3)),
           num(comm.size * tokens / (mean_step * 1e-3)), fmt("%d processes", comm.size)});
  t.add({"GFLOP/step", num(fl.total() / 1e9), "", "counted, see below"});
  t.add({"achieved GFLOP/s", num(gflops), num(fl.total() / (mean_step * 1e-3) / 1e9), ""});
  t.add({"sgemm peak GFLOP/s", num(peak), "",
         fmt("n=%d through spectral::gemm, %d threads: %.1f before, %.1f after the steps", o.peak_n, threads,
             peak_before.gflops, peak_after.gflops)});
  t.add({"fraction of peak", fmt("%.1f%%", 100 * gflops / peak), "", ""});
  if (o.replay && !replicas) {
    t.add({"products alone ms", num(replay.ms), "",
           fmt("the step's %zu matrix products (%.2f GFLOP) replayed alone: %.1f GFLOP/s, %.1f%% of peak",
               replay.products, replay.gflop, replay.gflop / (replay.ms * 1e-3),
               100 * replay.gflop / (replay.ms * 1e-3) / peak)});
    t.add({"everything else ms", num(med_step - replay.ms), "",
           fmt("%.1f%% of the step: elementwise passes, mixer cores, zeroing, the optimizer, threading gaps",
               100 * (med_step - replay.ms) / med_step)});
  }
  t.print(stdout);
  std::printf("\nFLOPs counted per step:\n");
  for (const auto& n : fl.notes) std::printf("  %s\n", n.c_str());
  std::printf("last loss %.4f (random tokens: ~ln V = %.3f)\n", loss, std::log(double(V)));
  std::printf("load average at the end: %s\n", load_average().c_str());

  if (!comm.root()) return 0;
  Csv csv(o.csv, {"mixers", "d", "layers", "T", "B", "V", "threads", "ms_per_step", "tokens_per_s", "gflop_per_step",
                  "gflops", "peak_gflops", "fraction_of_peak", "forward_ms", "backward_ms", "update_ms",
                  "products_alone_ms", "products_gflop", "dense_gflop"});
  std::string mix = mixers;
  std::replace(mix.begin(), mix.end(), ',', ';');
  csv.row({"\"" + mix + "\"", std::to_string(mc.d_model), std::to_string(mc.n_layers), std::to_string(T),
           std::to_string(B), std::to_string(V), std::to_string(threads), fmt("%.6g", med_step),
           fmt("%.6g", tokens / (med_step * 1e-3)), fmt("%.6g", fl.total() / 1e9), fmt("%.6g", gflops),
           fmt("%.6g", peak), fmt("%.4f", gflops / peak), replicas ? std::string() : fmt("%.6g", median(fwd_ms)), fmt("%.6g", median(bwd_ms)),
           fmt("%.6g", median(upd_ms)), o.replay && !replicas ? fmt("%.6g", replay.ms) : "",
           o.replay && !replicas ? fmt("%.6g", replay.gflop) : "",
           fmt("%.6g", fl.matmul / 1e9)});
  return 0;
}

}  // namespace spectral::bench
