/*
 * tests/array_conformance/driver.cc - runs the cases gen.py wrote (NumPy's
 * answers) through dtx and compares: the error expected if and only if dtx
 * gives one; otherwise the dtype and shape equal and the values exact for
 * bool and integers, within the case's tolerance for floats (NaN where NaN,
 * infinities of the same sign; zeros of the same sign in cases marked
 * "signs").
 *
 * Usage: array_conformance_driver CASES.TXT  (inputs are read beside it).
 * The cases run in turn on three clusters: sync, threads, and the cluster
 * scheduler on two simulated GPUs. Prints each failure (case, expression,
 * expected, got) and a summary; exits 1 when a case fails.
 */
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "dtx/dtx.h"

namespace {

struct Input {
  std::string file;
  std::vector<int64_t> chunks;
  bool zero_d = false;
};

struct Case {
  int id = -1;
  std::string name, expr, note;
  std::vector<Input> inputs;
  std::string buf;      /* a dtype name: compute with dtx_array_compute_as */
  std::string want_err; /* NumPy's exception, or empty */
  std::string want_dtype;
  std::vector<int64_t> want_shape;
  double atol = 0, rtol = 0;
  bool signs = false; /* zeros must have NumPy's signs */
  std::vector<std::string> values;
};

std::vector<int64_t> ParseInts(const std::string &s) {
  std::vector<int64_t> v;
  if (s == "-" || s.empty()) return v;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) v.push_back(std::stoll(tok));
  return v;
}

std::vector<Case> ReadCases(const std::string &path, std::string *header) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<Case> cases;
  Case c;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (c.id < 0 && header->empty()) *header = line;
      if (c.id >= 0) c.note = line;
      continue;
    }
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    if (key == "case") {
      c = Case();
      ls >> c.id >> c.name;
    } else if (key == "in") {
      int k;
      Input in;
      std::string ch;
      ls >> k >> in.file >> ch;
      in.zero_d = ch == "-";
      in.chunks = ParseInts(ch);
      c.inputs.push_back(in);
    } else if (key == "expr") {
      c.expr = line.substr(5);
    } else if (key == "buf") {
      ls >> c.buf;
    } else if (key == "want") {
      std::string t;
      ls >> t;
      if (t == "error") {
        std::getline(ls, c.want_err);
        if (c.want_err.empty()) c.want_err = "error";
      } else {
        std::string shape;
        c.want_dtype = t;
        ls >> shape >> c.atol >> c.rtol;
        c.want_shape = ParseInts(shape);
      }
    } else if (key == "signs") {
      c.signs = true;
    } else if (key == "values") {
      std::string v;
      while (ls >> v) c.values.push_back(v);
    } else if (key == "end") {
      cases.push_back(c);
    } else {
      throw std::runtime_error("unknown line in " + path + ": " + line);
    }
  }
  return cases;
}

dtx_dtype DtypeOf(const std::string &name) {
  for (int t = 1; dtx_dtype_name(static_cast<dtx_dtype>(t)) != nullptr; t++)
    if (name == dtx_dtype_name(static_cast<dtx_dtype>(t))) return static_cast<dtx_dtype>(t);
  throw std::runtime_error("unknown dtype " + name);
}

/* ---- building an expression with dtx ---------------------------------------------------------- */

/* Reads the prefix language of gen.py; every array made lands in the caller's scope. */
class Builder {
 public:
  Builder(dtx_cluster *cl, std::vector<dtx_array *> ins, std::string text)
      : cl_(cl), ins_(std::move(ins)), s_(std::move(text)) {}

  /* The array, or NULL with the first failure in dtx_last_error() (or why_). */
  dtx_array *Build() {
    pos_ = 0;
    dtx_array *a = Node();
    Skip();
    if (pos_ != s_.size()) throw std::runtime_error("trailing text in expression");
    return a;
  }
  std::string why_;

 private:
  void Skip() {
    while (pos_ < s_.size() && s_[pos_] == ' ') pos_++;
  }
  std::string Tok() {
    Skip();
    size_t b = pos_;
    while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != '(' && s_[pos_] != ')') pos_++;
    if (b == pos_) throw std::runtime_error("expected a token at " + std::to_string(b) + " in " + s_);
    return s_.substr(b, pos_ - b);
  }
  void Expect(char ch) {
    Skip();
    if (pos_ >= s_.size() || s_[pos_] != ch)
      throw std::runtime_error(std::string("expected '") + ch + "' at " + std::to_string(pos_) + " in " + s_);
    pos_++;
  }
  static double Num(const std::string &t) {
    char *end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (*end != '\0') throw std::runtime_error("not a number: " + t);
    return v;
  }
  static int64_t Int(const std::string &t) {
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (*end != '\0' || errno != 0) throw std::runtime_error("not an int64: " + t);
    return v;
  }

  dtx_array *Node() {
    Expect('(');
    std::string op = Tok();
    dtx_array *r = Apply(op);
    Expect(')');
    return r;
  }

  dtx_array *Apply(const std::string &op) {
    static const char *un[] = {"neg", "abs",  "exp",   "log",   "sqrt",     "sin",
                               "cos", "tanh", "isnan", "isinf", "isfinite", "rint"};
    static const dtx_unary_op uops[] = {DTX_NEG, DTX_ABS,  DTX_EXP,   DTX_LOG,   DTX_SQRT,     DTX_SIN,
                                        DTX_COS, DTX_TANH, DTX_ISNAN, DTX_ISINF, DTX_ISFINITE, DTX_RINT};
    static const char *bin[] = {"add", "sub", "mul", "div", "pow", "minimum",      "maximum", "eq",
                                "ne",  "lt",  "le",  "gt",  "ge",  "floor_divide", "mod"};
    static const dtx_binary_op bops[] = {DTX_ADD,     DTX_SUB,     DTX_MUL, DTX_DIV,          DTX_POW,
                                         DTX_MINIMUM, DTX_MAXIMUM, DTX_EQ,  DTX_NE,           DTX_LT,
                                         DTX_LE,      DTX_GT,      DTX_GE,  DTX_FLOOR_DIVIDE, DTX_MOD};
    static_assert(sizeof un / sizeof un[0] == sizeof uops / sizeof uops[0], "unary table");
    static_assert(sizeof bin / sizeof bin[0] == sizeof bops / sizeof bops[0], "binary table");
    if (op == "in") {
      int64_t k = Int(Tok());
      if (k < 0 || k >= static_cast<int64_t>(ins_.size()))
        throw std::runtime_error("no input " + std::to_string(k));
      return ins_[k];
    }
    if (op == "int") return dtx_scalar_int(cl_, Int(Tok()));
    if (op == "float") return dtx_scalar(cl_, Num(Tok()));
    if (op == "full") {
      dtx_dtype t = DtypeOf(Tok());
      double v = Num(Tok());
      std::vector<int64_t> shape = ParseInts(Tok());
      return dtx_full(cl_, static_cast<int>(shape.size()), shape.data(), nullptr, t, v);
    }
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++)
      if (op == un[i]) return dtx_unary(uops[i], Node());
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++)
      if (op == bin[i]) {
        dtx_array *a = Node(), *b = Node();
        return dtx_binary(bops[i], a, b);
      }
    if (op == "where") {
      dtx_array *c = Node(), *a = Node(), *b = Node();
      return dtx_where(c, a, b);
    }
    if (op == "astype") {
      dtx_array *a = Node();
      return dtx_astype(a, DtypeOf(Tok()));
    }
    if (op == "clip") {
      dtx_array *a = Node();
      double lo = Num(Tok()), hi = Num(Tok());
      return dtx_clip(a, lo, hi);
    }
    if (op == "round") {
      dtx_array *a = Node();
      return dtx_round(a, static_cast<int>(Int(Tok())));
    }
    if (op == "persist") {
      dtx_array *a = Node(), *p = nullptr;
      if (a == nullptr) return nullptr;
      dtx_status rc = dtx_array_persist(a, nullptr, &p);
      if (rc != DTX_OK) why_ = std::string("persist: ") + dtx_status_name(rc) + ": " + dtx_last_error();
      return p;
    }
    if (op == "reduce") return Reduce();
    if (op == "sort") {
      dtx_array *a = Node();
      return dtx_sort(a, static_cast<int>(Int(Tok())));
    }
    if (op == "topk" || op == "argtopk") {
      dtx_array *a = Node();
      int64_t k = Int(Tok());
      int axis = static_cast<int>(Int(Tok()));
      return op == "topk" ? dtx_topk(a, k, axis) : dtx_argtopk(a, k, axis);
    }
    if (op == "cum") {
      static const char *names[] = {"cumsum", "cumprod", "nancumsum", "nancumprod"};
      static const dtx_scan_op ops[] = {DTX_CUMSUM, DTX_CUMPROD, DTX_NANCUMSUM, DTX_NANCUMPROD};
      std::string name = Tok();
      dtx_array *a = Node();
      int axis = static_cast<int>(Int(Tok()));
      for (int i = 0; i < 4; i++)
        if (name == names[i]) return dtx_cumulative(a, ops[i], axis);
      throw std::runtime_error("unknown scan " + name);
    }
    if (op == "dot" || op == "matmul") {
      dtx_array *a = Node(), *b = Node();
      return op == "dot" ? dtx_dot(a, b) : dtx_matmul(a, b);
    }
    if (op == "tensordot") {
      dtx_array *a = Node(), *b = Node();
      std::vector<int64_t> aa = ParseInts(Tok()), ab = ParseInts(Tok());
      std::vector<int> ia(aa.begin(), aa.end()), ib(ab.begin(), ab.end());
      return dtx_tensordot(a, b, ia.data(), ib.data(), static_cast<int>(ia.size()));
    }
    if (op == "slice") {
      dtx_array *a = Node();
      std::vector<dtx_index> idx = ParseSpec(Tok());
      return dtx_slice(a, static_cast<int>(idx.size()), idx.data());
    }
    if (op == "transpose") {
      dtx_array *a = Node();
      std::vector<int64_t> p = ParseInts(Tok());
      std::vector<int> ip(p.begin(), p.end());
      return dtx_transpose(a, ip.empty() ? nullptr : ip.data());
    }
    if (op == "concat") {
      dtx_array *xs[2];
      xs[0] = Node();
      xs[1] = Node();
      int axis = static_cast<int>(Int(Tok()));
      return dtx_concatenate(xs, 2, axis);
    }
    if (op == "qr_r" || op == "svd_s" || op == "solve" || op == "inv" || op == "cholesky" || op == "norm")
      return Linalg(op);
    if (op == "take" || op == "take_array" || op == "mask" || op.rfind("unique", 0) == 0) return Index(op);
    if (op == "real" || op == "imag" || op == "conj") {
      dtx_array *a = Node();
      return op == "real" ? dtx_real(a) : op == "imag" ? dtx_imag(a) : dtx_conj(a);
    }
    if (op == "complex") {
      dtx_array *a = Node(), *b = Node();
      return dtx_complex(a, b);
    }
    if (op == "cscalar") {
      double re = Num(Tok()), im = Num(Tok());
      return dtx_scalar_complex(cl_, re, im);
    }
    if (op == "fft" || op == "fftn") return Fft(op);
    throw std::runtime_error("unknown operation " + op);
  }

  /* dtx/index.h: take, take_array (AXIS none: DTX_NO_AXIS), mask (dtx_mask_select), unique, and
   * unique_values / _index / _inverse / _counts (one output of dtx_unique_all). */
  dtx_array *Index(const std::string &op) {
    dtx_array *a = Node();
    if (op == "unique") return dtx_unique(a);
    if (op.rfind("unique_", 0) == 0) {
      dtx_array *out[4] = {nullptr, nullptr, nullptr, nullptr};
      const char *names[4] = {"unique_values", "unique_index", "unique_inverse", "unique_counts"};
      int k = 0;
      while (k < 4 && op != names[k]) k++;
      if (k == 4) throw std::runtime_error("unknown operation " + op);
      if (dtx_unique_all(a, k == 0 ? &out[0] : nullptr, k == 1 ? &out[1] : nullptr,
                         k == 2 ? &out[2] : nullptr, k == 3 ? &out[3] : nullptr) != DTX_OK)
        return nullptr;
      return out[k];
    }
    if (op == "mask" || op == "take_array") {
      dtx_array *b = Node();
      if (op == "mask") return dtx_mask_select(a, b);
      return dtx_take_array(a, b, Axis(Tok()));
    }
    std::vector<int64_t> idx = ParseInts(Tok());
    return dtx_take(a, idx.data(), static_cast<int64_t>(idx.size()), Axis(Tok()));
  }
  int Axis(const std::string &t) { return t == "none" ? DTX_NO_AXIS : static_cast<int>(Int(t)); }

  /* A complex R with each row times conj(d / |d|), d its diagonal element:
   * the diagonal made real and >= 0 (R is unique up to those phases). */
  dtx_array *PhaseFree(dtx_array *r) {
    static const int one[] = {1};
    int64_t k = dtx_array_dim(r, 0);
    dtx_dtype pt = dtx_array_dtype(r) == DTX_C64 ? DTX_F32 : DTX_F64;
    dtx_array *d = dtx_sum(dtx_mul(r, dtx_eye(cl_, k, dtx_array_dim(r, 1), 0, nullptr, pt)), one, 1);
    dtx_array *ad = dtx_abs(d);
    dtx_array *ph =
        dtx_conj(dtx_div(d, dtx_where(dtx_binary_scalar(DTX_EQ, ad, 0.0), dtx_scalar(cl_, 1.0), ad)));
    dtx_index ix[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}, {DTX_INDEX_NEWAXIS, 0, 0, 0}};
    return dtx_mul(r, dtx_slice(ph, 2, ix));
  }

  /* dtx/linalg.h; qr_r: R with each row's sign making its diagonal >= 0
   * (complex: its phase, PhaseFree). */
  dtx_array *Linalg(const std::string &op) {
    dtx_array *a = Node(), *r = nullptr;
    dtx_status rc = DTX_OK;
    if (op == "qr_r") {
      rc = dtx_linalg_qr(a, nullptr, &r);
      dtx_dtype rt = rc == DTX_OK ? dtx_array_dtype(r) : DTX_F64;
      if (rc == DTX_OK && (rt == DTX_C64 || rt == DTX_C128)) {
        r = PhaseFree(r);
      } else if (rc == DTX_OK) {
        static const int one[] = {1};
        int64_t k = dtx_array_dim(r, 0);
        /* the diagonal alone (a NaN elsewhere in a row leaves its sign as NumPy's np.diagonal does) */
        dtx_array *eye = dtx_astype(dtx_eye(cl_, k, dtx_array_dim(r, 1), 0, nullptr, DTX_F64), DTX_BOOL);
        dtx_array *d = dtx_sum(dtx_where(eye, r, dtx_scalar(cl_, 0.0)), one, 1);
        dtx_array *sg =
            dtx_where(dtx_binary_scalar(DTX_LT, d, 0.0), dtx_scalar(cl_, -1.0), dtx_scalar(cl_, 1.0));
        dtx_index ix[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}, {DTX_INDEX_NEWAXIS, 0, 0, 0}};
        r = dtx_mul(r, dtx_astype(dtx_slice(sg, 2, ix), dtx_array_dtype(r)));
      }
    } else if (op == "svd_s") {
      rc = dtx_linalg_svd(a, nullptr, &r, nullptr);
    } else if (op == "solve") {
      dtx_array *b = Node();
      r = dtx_linalg_solve(a, b);
    } else if (op == "inv") {
      r = dtx_linalg_inv(a);
    } else if (op == "cholesky") {
      r = dtx_linalg_cholesky(a, 0);
    } else {
      std::string o = Tok(), ax = Tok();
      int keep = static_cast<int>(Int(Tok()));
      dtx_norm_ord ord = o == "none"   ? DTX_NORM_DEFAULT
                         : o == "fro"  ? DTX_NORM_FRO
                         : o == "nuc"  ? DTX_NORM_NUC
                         : o == "inf"  ? DTX_NORM_INF
                         : o == "-inf" ? DTX_NORM_NEG_INF
                                       : DTX_NORM_P;
      std::vector<int64_t> axes = ax == "all" ? std::vector<int64_t>() : ParseInts(ax);
      std::vector<int> ia(axes.begin(), axes.end());
      r = dtx_linalg_norm(a, ord, ord == DTX_NORM_P ? Num(o) : 0.0, ia.empty() ? nullptr : ia.data(),
                          static_cast<int>(ia.size()), keep);
    }
    if (rc != DTX_OK) why_ = op + ": " + dtx_status_name(rc) + ": " + dtx_last_error();
    return r;
  }

  /* dtx/fft.h: (fft NAME X N AXIS NORM), (fftn NAME X S AXES NORM) */
  dtx_array *Fft(const std::string &op) {
    std::string name = Tok();
    dtx_array *a = Node();
    if (op == "fft") {
      int64_t n = Int(Tok());
      int axis = static_cast<int>(Int(Tok()));
      dtx_fft_norm norm = Norm(Tok());
      if (name == "fft") return dtx_fft(a, n, axis, norm);
      if (name == "ifft") return dtx_ifft(a, n, axis, norm);
      if (name == "rfft") return dtx_rfft(a, n, axis, norm);
      if (name == "irfft") return dtx_irfft(a, n, axis, norm);
      throw std::runtime_error("unknown fft " + name);
    }
    std::vector<int64_t> s = ParseInts(Tok()), ax = ParseInts(Tok());
    std::vector<int> axes(ax.begin(), ax.end());
    dtx_fft_norm norm = Norm(Tok());
    const int64_t *sp = s.empty() ? nullptr : s.data();
    const int *ap = axes.empty() ? nullptr : axes.data();
    int n = static_cast<int>(axes.empty() ? s.size() : axes.size());
    if (name == "fft2") return dtx_fft2(a, sp, ap, norm);
    if (name == "ifft2") return dtx_ifft2(a, sp, ap, norm);
    if (name == "fftn") return dtx_fftn(a, n, sp, ap, norm);
    if (name == "ifftn") return dtx_ifftn(a, n, sp, ap, norm);
    if (name == "rfftn") return dtx_rfftn(a, n, sp, ap, norm);
    if (name == "irfftn") return dtx_irfftn(a, n, sp, ap, norm);
    throw std::runtime_error("unknown fftn " + name);
  }
  static dtx_fft_norm Norm(const std::string &t) {
    if (t == "backward") return DTX_FFT_BACKWARD;
    if (t == "ortho") return DTX_FFT_ORTHO;
    if (t == "forward") return DTX_FFT_FORWARD;
    throw std::runtime_error("unknown norm " + t);
  }

  dtx_array *Reduce() {
    static const char *names[] = {"sum", "prod",   "mean",   "min", "max", "var",
                                  "std", "argmin", "argmax", "any", "all"};
    static const dtx_reduction reds[] = {DTX_SUM, DTX_PROD,   DTX_MEAN,   DTX_MIN, DTX_MAX, DTX_VAR,
                                         DTX_STD, DTX_ARGMIN, DTX_ARGMAX, DTX_ANY, DTX_ALL};
    std::string name = Tok();
    dtx_array *a = Node();
    std::string ax = Tok();
    dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
    o.keepdims = static_cast<int>(Int(Tok()));
    o.ddof = static_cast<int>(Int(Tok()));
    std::vector<int64_t> axes = ax == "all" ? std::vector<int64_t>() : ParseInts(ax);
    std::vector<int> ia(axes.begin(), axes.end());
    bool nan = name.compare(0, 3, "nan") == 0;
    if (nan) name = name.substr(3);
    for (int i = 0; i < 11; i++)
      if (name == names[i])
        return (nan ? dtx_nanreduce : dtx_reduce)(a, reds[i], ia.empty() ? nullptr : ia.data(),
                                                  static_cast<int>(ia.size()), &o);
    throw std::runtime_error("unknown reduction " + name);
  }

  static std::vector<dtx_index> ParseSpec(const std::string &spec) {
    std::vector<dtx_index> out;
    std::stringstream ss(spec);
    std::string e;
    while (std::getline(ss, e, ',')) {
      dtx_index x;
      std::memset(&x, 0, sizeof x);
      if (e == "new") {
        x.kind = DTX_INDEX_NEWAXIS;
      } else if (e.find(':') == std::string::npos) {
        x.kind = DTX_INDEX_INT;
        x.start = Int(e);
      } else {
        x.kind = DTX_INDEX_SLICE;
        std::string part[3];
        size_t p1 = e.find(':'), p2 = e.find(':', p1 + 1);
        part[0] = e.substr(0, p1);
        part[1] = p2 == std::string::npos ? e.substr(p1 + 1) : e.substr(p1 + 1, p2 - p1 - 1);
        part[2] = p2 == std::string::npos ? "" : e.substr(p2 + 1);
        x.start = part[0].empty() ? DTX_NONE : Int(part[0]);
        x.stop = part[1].empty() ? DTX_NONE : Int(part[1]);
        x.step = part[2].empty() ? 1 : Int(part[2]);
      }
      out.push_back(x);
    }
    return out;
  }

  dtx_cluster *cl_;
  std::vector<dtx_array *> ins_;
  std::string s_;
  size_t pos_ = 0;
};

/* ---- comparing ------------------------------------------------------------------------------------ */

/* A binary16 value, decoded independently of the library's routines. */
double HalfToDouble(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0 ? std::ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

template <typename T>
T Load(const std::vector<unsigned char> &buf, size_t i) {
  T v;
  std::memcpy(&v, buf.data() + sizeof(T) * i, sizeof(T));
  return v;
}

/* Element i as a double, and integers exactly in *iv (uint64 as its bits). */
double ReadAt(const std::vector<unsigned char> &buf, dtx_dtype t, size_t i, int64_t *iv) {
  switch (t) {
    case DTX_BOOL:
    case DTX_U8:
      *iv = buf[i];
      return static_cast<double>(*iv);
    case DTX_I8:
      *iv = Load<int8_t>(buf, i);
      return static_cast<double>(*iv);
    case DTX_I16:
      *iv = Load<int16_t>(buf, i);
      return static_cast<double>(*iv);
    case DTX_U16:
      *iv = Load<uint16_t>(buf, i);
      return static_cast<double>(*iv);
    case DTX_I32:
      *iv = Load<int32_t>(buf, i);
      return static_cast<double>(*iv);
    case DTX_U32:
      *iv = Load<uint32_t>(buf, i);
      return static_cast<double>(*iv);
    case DTX_I64:
      *iv = Load<int64_t>(buf, i);
      return static_cast<double>(*iv);
    case DTX_U64:
      *iv = static_cast<int64_t>(Load<uint64_t>(buf, i));
      return static_cast<double>(Load<uint64_t>(buf, i));
    case DTX_F16:
      return HalfToDouble(Load<uint16_t>(buf, i));
    case DTX_F32:
      return Load<float>(buf, i);
    default:
      return Load<double>(buf, i);
  }
}

std::string ShapeStr(const std::vector<int64_t> &s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

/* Compares a computed result with the case; "" when it agrees, else why not. */
std::string Compare(const Case &c, dtx_dtype got_t, const std::vector<int64_t> &got_shape,
                    const std::vector<unsigned char> &buf) {
  dtx_dtype want_t = DtypeOf(c.want_dtype);
  if (got_t != want_t)
    return std::string("dtype ") + dtx_dtype_name(got_t) + ", NumPy " + dtx_dtype_name(want_t);
  if (got_shape != c.want_shape) return "shape " + ShapeStr(got_shape) + ", NumPy " + ShapeStr(c.want_shape);
  int fl =
      want_t == DTX_F16 || want_t == DTX_F32 || want_t == DTX_F64 || want_t == DTX_C64 || want_t == DTX_C128;
  /* complex values are pairs of parts (real, imaginary), listed so */
  dtx_dtype read_t = want_t == DTX_C64 ? DTX_F32 : want_t == DTX_C128 ? DTX_F64 : got_t;
  for (size_t i = 0; i < c.values.size(); i++) {
    int64_t gi = 0;
    double g = ReadAt(buf, read_t, i, &gi);
    bool ok;
    if (!fl) {
      ok = want_t == DTX_U64 ? static_cast<uint64_t>(gi) == std::stoull(c.values[i])
                             : gi == std::stoll(c.values[i]);
    } else {
      double w = std::strtod(c.values[i].c_str(), nullptr);
      if (std::isnan(w))
        ok = std::isnan(g);
      else if (std::isinf(w))
        ok = g == w;
      else
        ok = std::isfinite(g) && std::fabs(g - w) <= c.atol + c.rtol * std::fabs(w);
      if (ok && c.signs && w == 0) ok = g == 0 && std::signbit(g) == std::signbit(w);
    }
    if (!ok) {
      char msg[256];
      std::snprintf(msg, sizeof msg, "element %zu: got %.17g, NumPy %s (atol %g, rtol %g)", i, g,
                    c.values[i].c_str(), c.atol, c.rtol);
      return msg;
    }
  }
  return "";
}

struct ClusterDel {
  void operator()(dtx_cluster *c) const { dtx_cluster_destroy(c); }
};
using ClusterPtr = std::unique_ptr<dtx_cluster, ClusterDel>;

ClusterPtr MakeCluster(dtx_scheduler s, const char *gpus) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = s;
  cfg.num_threads = 2;
  cfg.log_level = DTX_LOG_NONE;
  cfg.gpus = gpus;
  dtx_cluster *cl = nullptr;
  if (dtx_cluster_create(&cfg, &cl) != DTX_OK)
    throw std::runtime_error(std::string("dtx_cluster_create: ") + dtx_last_error());
  return ClusterPtr(cl);
}

/* Runs one case; "" when dtx agrees with NumPy, else what differs. */
std::string RunCase(const Case &c, dtx_cluster *cl, const std::string &dir) {
  std::vector<dtx_array *> ins;
  for (const Input &in : c.inputs) {
    dtx_array *a = nullptr;
    std::string path = dir + "/" + in.file;
    dtx_status rc = dtx_load_npy(cl, path.c_str(), in.zero_d ? nullptr : in.chunks.data(), &a);
    if (rc != DTX_OK) return "loading " + path + ": " + dtx_last_error();
    ins.push_back(a);
  }
  Builder b(cl, ins, c.expr);
  dtx_array *a = b.Build();
  std::string err;
  std::vector<unsigned char> buf;
  int64_t unknown_len = -1;
  if (a == nullptr) {
    err = b.why_.empty() ? std::string("building: ") + dtx_last_error() : b.why_;
  } else if (!dtx_array_shape_known(a)) { /* a length unknown until computed (dtx/index.h) */
    void *p = nullptr;
    dtx_status rc =
        dtx_array_compute_alloc(a, c.buf.empty() ? DTX_ANY_DTYPE : DtypeOf(c.buf), &p, &unknown_len);
    if (rc != DTX_OK) err = std::string("compute_alloc: ") + dtx_status_name(rc) + ": " + dtx_last_error();
    size_t bytes = rc == DTX_OK ? static_cast<size_t>(unknown_len) * dtx_dtype_size(dtx_array_dtype(a)) : 0;
    buf.assign(static_cast<unsigned char *>(p), static_cast<unsigned char *>(p) + bytes);
    buf.push_back(0);
    std::free(p);
  } else {
    buf.resize(dtx_array_nbytes(a) + 1);
    dtx_dtype bt = c.buf.empty() ? DTX_ANY_DTYPE : DtypeOf(c.buf);
    dtx_status rc = dtx_array_compute_as(a, bt, buf.data(), dtx_array_nbytes(a));
    if (rc != DTX_OK) err = std::string("compute: ") + dtx_status_name(rc) + ": " + dtx_last_error();
  }
  if (!c.want_err.empty())
    return err.empty() ? "no error, NumPy:" + c.want_err +
                             (a ? std::string(" (dtx made ") + dtx_dtype_name(dtx_array_dtype(a)) + ")" : "")
                       : "";
  if (!err.empty()) return "error where NumPy has none: " + err;
  std::vector<int64_t> shape;
  for (int d = 0; d < dtx_array_ndim(a); d++)
    shape.push_back(unknown_len >= 0 ? unknown_len : dtx_array_dim(a, d));
  return Compare(c, dtx_array_dtype(a), shape, buf);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CASES.TXT\n", argv[0]);
    return 2;
  }
  std::string path = argv[1], dir = ".", header;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) dir = path.substr(0, slash);
  try {
    std::vector<Case> cases = ReadCases(path, &header);
    std::printf("%s\n", header.c_str());
    const char *sched_names[3] = {"sync", "threads", "cluster sim:2"};
    ClusterPtr cls[3] = {MakeCluster(DTX_SCHED_SYNC, "none"), MakeCluster(DTX_SCHED_THREADS, "none"),
                         MakeCluster(DTX_SCHED_CLUSTER, "sim:2")};
    int failed = 0, named = 0, errors = 0;
    for (size_t i = 0; i < cases.size(); i++) {
      const Case &c = cases[i];
      named += c.name.rfind("random_", 0) != 0;
      errors += !c.want_err.empty();
      dtx_array_scope_begin();
      std::string why = RunCase(c, cls[i % 3].get(), dir);
      dtx_array_scope_end();
      if (why.empty()) continue;
      failed++;
      std::printf("FAIL case %d %s (%s)\n  expr %s\n  %s\n", c.id, c.name.c_str(), sched_names[i % 3],
                  c.expr.c_str(), why.c_str());
      if (!c.note.empty()) std::printf("  %s\n", c.note.c_str());
    }
    std::printf(
        "array conformance: %zu cases (%d named, %zu random; %d expect an error): %zu agree with NumPy, "
        "%d differ\n",
        cases.size(), named, cases.size() - static_cast<size_t>(named), errors,
        cases.size() - static_cast<size_t>(failed), failed);
    return failed == 0 && !cases.empty() ? 0 : 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "array_conformance_driver: %s\n", e.what());
    return 2;
  }
}
