/* The classic codes' context-mixing coder (FORMAT.md, profile 5 "classic-cm"): keyframes and deltas.
 *
 * Compiled because every pixel's bits are predicted by eight adaptive context models, mixed by two
 * online-trained mixers, and each bit depends on the ones before it: a
 * Python loop would take about a second a frame.  client/ContextModel.js decodes the same bits; both follow
 * FORMAT.md's "classic-cm (id 5)" section, integer for integer.
 *
 * One source, two builds: a Python extension (setup.py), and, compiled with clang
 * --target=wasm32 (`make client/contextmodel.wasm`), a freestanding WebAssembly decoder for the
 * browser's worker (client/ContextModel.js loads it). The WebAssembly build has no libc, so the
 * few libc calls the coder makes are defined below for it, and only its decoder is exported; it
 * mixes with WebAssembly SIMD (the same integers as the plain loops, which the extension runs).
 */
#ifdef __wasm__
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>
#define abs(x) __builtin_abs(x)
void *memset(void *to, int value, size_t n);
void *memcpy(void *restrict to, const void *restrict from, size_t n);
static void *realloc(void *old, size_t bytes) { (void)old; (void)bytes; return NULL; } /* no encoder */
#else
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#endif

#define NO_READING 255
#define MAX_CODE 254
#define SWITCH_RESIDUAL 6    /* |neighbours' change| from which kind 2 predicts spatially */
#define SENTINEL 99          /* "no residual known here" */
#define HASHED_MODELS 4
#define NEARBY_MODELS 3
#define MODELS (HASHED_MODELS + 1 + NEARBY_MODELS)  /* the last four (4..7) by the code a bit asks about, not hashed */
#define VALUE_SLOTS (256 * NEAR_LEVELS * BIN_KINDS)
#define NEAR_REACH 3         /* models 5..7 tell neighbours' codes apart from the code asked within this many codes */
#define NEAR_LEVELS (2 * NEAR_REACH + 2)  /* -3..3 and "no reading" */
#define NEAR_CODES 3         /* each of models 5..7 reads three neighbours' codes */
#define NEARBY_SLOTS (NEAR_LEVELS * NEAR_LEVELS * NEAR_LEVELS * BIN_KINDS)
#define TABLE_BITS 16
#define TABLE_SIZE (1 << TABLE_BITS)
#define COUNT_LIMIT 60       /* slots keep adapting at 2/123 or faster: a scene drifts */
#define BIN_KINDS 32         /* bin id (0..15) * 2 + sign */
#define MIXER_CONTEXTS 384   /* per bin kind: a neighbour changed (2) x λ(W) (8) x λ(N) (8) x kind (3) */
#define MIXER_SETS (BIN_KINDS * MIXER_CONTEXTS)
#define MIXER2_CONTEXTS 160  /* per bin kind: age class (8) x neighbourhood volatility class (5) x t-1's E, S at the code (4) */
#define MIXER2_SETS (BIN_KINDS * MIXER2_CONTEXTS)
#define INPUTS (MODELS + 1)
#define WEIGHT_INIT 13107    /* 0.2 in 16.16 */
#define BIAS_INPUT 256
#define WEIGHT_LIMIT (1 << 23)
#define MIXER_RATE 4
#define UNARY_BINS 20
#define ESCAPE_BITS 8
#define TRAIN_SKIP 64        /* a mixer whose error is within this (of 4096) is not trained: saves time */

static int squash_table[33] = {
    1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047,
    2549, 2994, 3348, 3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094};
static int16_t stretch_table[4096];
static int16_t squash_of[4095];  /* squash(d) for d = -2047..2047, at d + 2047 */
static int32_t reciprocal[COUNT_LIMIT + 1];

static int squash(int d)
{
    if (d > 2047) return 4095;
    if (d < -2047) return 1;
    int w = d & 127;
    int i = (d >> 7) + 16;
    return (squash_table[i] * (128 - w) + squash_table[i + 1] * w + 64) >> 7;
}

static void init_context_tables(void);

static void init_tables(void)
{
    init_context_tables();
    int pi = 0;
    for (int x = -2047; x <= 2047; x++) {
        int v = squash(x);
        for (int j = pi; j <= v; j++) stretch_table[j] = (int16_t)x;
        pi = v + 1;
    }
    for (int j = pi; j < 4096; j++) stretch_table[j] = 2047;
    for (int d = -2047; d <= 2047; d++) squash_of[d + 2047] = (int16_t)squash(d);
    for (int n = 0; n <= COUNT_LIMIT; n++) reciprocal[n] = 32768 / (2 * n + 3);
}

/* A context's adaptive probability and how often it was used, side by side: one cache line read. */
typedef struct {
    uint16_t p;
    uint16_t n;
} Slot;

typedef struct {
    int width, height;
    Slot slot[HASHED_MODELS][TABLE_SIZE];
    Slot value[VALUE_SLOTS];
    Slot nearby[NEARBY_MODELS][NEARBY_SLOTS];
    int32_t weight[MIXER_SETS][INPUTS];
    int32_t weight2[MIXER2_SETS][INPUTS];
    uint8_t *history;       /* room for 3 frames */
    uint8_t *frame[3];      /* t-1, t-2, t-3 in it: shifting the history rotates these */
    int16_t *residual;      /* this frame's residuals against t-1, SENTINEL where unknown */
    uint8_t *volatility;
    uint8_t *changes;       /* per pixel: did its code change, in each of the last 8 frames (bit 0: the latest) */
    uint8_t *age;           /* per pixel: frames since its code last changed (capped at 255) */
    int8_t *last_change;    /* per pixel: that change, clamped to -8..8 (0: none known) */
    int bad_code, bad_pixel;  /* a decoded code outside 0..254, and where: for the error message */
} Model;

/* Start a group of pictures: everything forgotten, no readings anywhere in the history. */
static void model_reset(Model *m)
{
    size_t n = (size_t)m->width * m->height;
    for (int k = 0; k < VALUE_SLOTS; k++) {
        m->value[k].p = 32768;
        m->value[k].n = 0;
    }
    for (int i = 0; i < NEARBY_MODELS; i++) {
        for (int k = 0; k < NEARBY_SLOTS; k++) {
            m->nearby[i][k].p = 32768;
            m->nearby[i][k].n = 0;
        }
    }
    for (int i = 0; i < HASHED_MODELS; i++) {
        for (int j = 0; j < TABLE_SIZE; j++) {
            m->slot[i][j].p = 32768;
            m->slot[i][j].n = 0;
        }
    }
    for (int s = 0; s < MIXER_SETS; s++)
        for (int i = 0; i < INPUTS; i++) m->weight[s][i] = WEIGHT_INIT;
    for (int s = 0; s < MIXER2_SETS; s++)
        for (int i = 0; i < INPUTS; i++) m->weight2[s][i] = WEIGHT_INIT;
    memset(m->volatility, 0, n);
    memset(m->age, 0, n);
    memset(m->changes, 0, n);
    memset(m->last_change, 0, n);
    memset(m->history, NO_READING, 3 * n);
    for (int j = 0; j < 3; j++) m->frame[j] = m->history + j * n;
}

static int clampc(int x, int k)
{
    if (x == SENTINEL) return 2 * k + 1;
    return (x < -k ? -k : (x > k ? k : x)) + k;
}

/* clampc(x, k) by table for the k the contexts use: every x they clamp lies in -255..255. */
static uint8_t clamped[5][512];
static const int clamp_k[5] = {1, 2, 3, 4, 8};
#define CL1(x) clamped[0][(x) + 256]
#define CL2(x) clamped[1][(x) + 256]
#define CL3(x) clamped[2][(x) + 256]
#define CL4(x) clamped[3][(x) + 256]
#define CL8(x) clamped[4][(x) + 256]

/* vmq of a volatility, aq of an age (FORMAT.md), by table. */
static uint8_t volatility_class[256], age_class[256];

static void init_near_tables(void);

static void init_context_tables(void)
{
    init_near_tables();
    for (int v = 0; v < 256; v++) {
        volatility_class[v] = (uint8_t)(v == 0 ? 0 : (v < 8 ? 1 : (v < 16 ? 2 : (v < 32 ? 3 : 4))));
        age_class[v] = (uint8_t)(v < 4 ? v : (v < 8 ? 4 : (v < 16 ? 5 : (v < 32 ? 6 : 7))));
    }
    for (int j = 0; j < 5; j++)
        for (int x = -256; x < 256; x++) clamped[j][x + 256] = (uint8_t)clampc(x, clamp_k[j]);
}

/* The fields (each 0..63) packed 6 bits apiece, then one mixing step: a hash a pixel, not a field. */
static inline uint32_t hash_packed(int model, uint32_t packed)
{
    uint32_t h = (packed + (uint32_t)(model + 1) * 0x3C6EF372u) * 0x9E3779B1u;
    h ^= h >> 15;
    h *= 0x85EBCA6Bu;
    return h ^ (h >> 13);
}

#define PACK2(a, b) (((uint32_t)(a) << 6) | (uint32_t)(b))
#define PACK3(a, b, c) ((PACK2(a, b) << 6) | (uint32_t)(c))
#define PACK4(a, b, c, d) ((PACK3(a, b, c) << 6) | (uint32_t)(d))
#define PACK5(a, b, c, d, e) ((PACK4(a, b, c, d) << 6) | (uint32_t)(e))

/* Bins 0..4 (bb 0, 2, 4, 6..9) of a context share one group of 8 slots (32 bytes, one cache line):
 * most pixels code only bins 0..2, so a pixel reads one line per model instead of one per bit. */
#define GROUP 8
static const uint8_t group_index[10] = {0, 0, 1, 0, 2, 0, 3, 4, 5, 6};  /* by bb; odd bb < 6 never occur */

static inline uint32_t slot_of(uint32_t base, int bb)
{
    if (bb < 10)
        return ((base >> (32 - TABLE_BITS)) & ~(uint32_t)(GROUP - 1)) + group_index[bb];
    uint32_t h = (base + (uint32_t)bb) * 0x85EBCA6Bu;
    h ^= h >> 13;
    return h >> (32 - TABLE_BITS);
}

/* Per-pixel features, all computed from what a decoder already has. */
typedef struct {
    int pred, kind, gx, gy, nonecnt, pnone;
    /* Models 5..7's neighbours' codes (NOT_NEAR where not valid): this frame's W, N, NE; WW, NN, NEE;
     * and t-1's codes here, east and south. Then each model's index for the code pred (bins 0..2). */
    int near[NEARBY_MODELS][NEAR_CODES];
    int near_pred[NEARBY_MODELS];
    int rW, rN, rNW, rNE, rp, rpp, mr, dW, dN, vmq, sgx, sgy, ageq, last, hist;
    int moved_now, moved_last;  /* nc, pc (FORMAT.md): neighbours that changed, this frame and the last */
    uint32_t base[HASHED_MODELS];  /* each model's context hash before the bin is added */
    Slot *group[HASHED_MODELS];    /* each model's group of 8 slots (bins 0..4) */
    int mixer2_base;
} Features;

static void context_hashes(Model *m, Features *f)
{
    int none_kind = f->nonecnt * 2 + f->kind;
    if (none_kind > 7) none_kind = 7;
    int kind = f->kind;
    int rp1 = CL1(f->rp);
    int dW2 = CL2(f->dW), dN2 = CL2(f->dN);
    uint32_t packed[HASHED_MODELS] = {
        PACK5(CL1(f->rNW), CL1(f->rNE), rp1 * 6 + CL2(f->rpp), none_kind, f->pnone),
        PACK5(CL4(f->gx), CL4(f->gy), CL8(f->mr), kind, f->ageq),
        PACK5(CL3(f->sgx), CL3(f->sgy), kind, dW2, dN2),
        PACK5(f->hist, CL2(f->last), f->moved_now, f->moved_last, kind),
    };
    for (int i = 0; i < HASHED_MODELS; i++) {
        f->base[i] = hash_packed(i, packed[i]);
        f->group[i] = &m->slot[i][(f->base[i] >> (32 - TABLE_BITS)) & ~(uint32_t)(GROUP - 1)];
    }
    f->mixer2_base = f->ageq * 5 + f->vmq;
}

static int valid(int v) { return v >= 0 && v != NO_READING; }

/* Models 5..7 read a neighbour's code x against the code c a bit asks about: x - c clamped to
 * -3..3 (level 0..6), or level 7 where the neighbour has no valid code. By table: a code that is not
 * valid is stored as NOT_NEAR, beyond the reach of any c (-20..275), so x - c alone picks the level. */
#define NOT_NEAR 1024
#define NEAR_OFFSET 512      /* near_levels[] is indexed by x - c + NEAR_OFFSET */
static uint8_t near_levels[2048];
static int near_code[257];   /* a code (-1..255) as models 5..7 store it: itself if valid, else NOT_NEAR */

static void init_near_tables(void)
{
    for (int d = -NEAR_OFFSET; d < 2048 - NEAR_OFFSET; d++)
        near_levels[d + NEAR_OFFSET] = (uint8_t)(d > NOT_NEAR / 2 ? NEAR_LEVELS - 1
                                                 : (d < -NEAR_REACH ? 0 : (d > NEAR_REACH ? 2 * NEAR_REACH : d + NEAR_REACH)));
    for (int v = -1; v <= 255; v++) near_code[v + 1] = v >= 0 && v != NO_READING ? v : NOT_NEAR;
}

/* A nearby model's index (before the bin) for the code c: its three neighbours' levels. */
static inline int near_index(const int *codes, int c)
{
    const uint8_t *level = near_levels + NEAR_OFFSET - c;
    return (level[codes[0]] * NEAR_LEVELS + level[codes[1]]) * NEAR_LEVELS + level[codes[2]];
}

/* c clamped between a and b: LOCO-I's median edge detector when c = a + b - corner. */
static int med3(int a, int b, int c)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;
    return c < lo ? lo : (c > hi ? hi : c);
}

/* `edge`: the pixel is on the frame's border. Called with a constant, so the interior's copy has no
 * bounds tests. */
static inline __attribute__((always_inline)) void features(const Model *m, const uint8_t *cur, int x, int y,
                                                           Features *f, const int edge)
{
    int W = m->width, H = m->height;
    const uint8_t *prev = m->frame[0], *pp = m->frame[1], *ppp = m->frame[2];
    const int16_t *r = m->residual;
    int i = y * W + x;
    int P = prev[i];
    f->rW = (!edge || x > 0) ? r[i - 1] : SENTINEL;
    f->rN = (!edge || y > 0) ? r[i - W] : SENTINEL;
    f->rNW = ((!edge || x > 0) && (!edge || y > 0)) ? r[i - W - 1] : SENTINEL;
    f->rNE = ((!edge || y > 0) && (!edge || x < W - 1)) ? r[i - W + 1] : SENTINEL;
    int Wv = (!edge || x > 0) ? cur[i - 1] : -1;
    int Nv = (!edge || y > 0) ? cur[i - W] : -1;
    int NWv = ((!edge || x > 0) && (!edge || y > 0)) ? cur[i - W - 1] : -1;
    int NEv = ((!edge || y > 0) && (!edge || x < W - 1)) ? cur[i - W + 1] : -1;
    f->rp = (P != NO_READING && pp[i] != NO_READING) ? P - pp[i] : SENTINEL;
    f->rpp = (pp[i] != NO_READING && ppp[i] != NO_READING) ? pp[i] - ppp[i] : SENTINEL;
    /* Flicker comes in patches: how many causal neighbours changed in this frame, and how many of the
     * others (not yet coded) changed in the last one. */
    f->moved_now = ((!edge || x > 0) && Wv != prev[i - 1]) + ((!edge || y > 0) && Nv != prev[i - W])
                 + ((!edge || (x > 0 && y > 0)) && NWv != prev[i - W - 1])
                 + ((!edge || (y > 0 && x < W - 1)) && NEv != prev[i - W + 1]);
    {
        const uint8_t *ch = m->changes;
        f->moved_last = ((!edge || x < W - 1) ? ch[i + 1] & 1 : 0) + ((!edge || y < H - 1) ? ch[i + W] & 1 : 0)
                      + ((!edge || (x > 0 && y < H - 1)) ? ch[i + W - 1] & 1 : 0)
                      + ((!edge || (x < W - 1 && y < H - 1)) ? ch[i + W + 1] & 1 : 0);
    }
    int pE = (!edge || x < W - 1) ? prev[i + 1] : -1;
    int pS = (!edge || y < H - 1) ? prev[i + W] : -1;
    int pW = (!edge || x > 0) ? prev[i - 1] : -1;
    int pN = (!edge || y > 0) ? prev[i - W] : -1;
    f->nonecnt = (Wv == NO_READING) + (Nv == NO_READING) + (NWv == NO_READING) + (NEv == NO_READING);
    f->pnone = (pW == NO_READING) + (pN == NO_READING) + (pE == NO_READING) + (pS == NO_READING);
    if (P != NO_READING) {
        f->kind = 0;
        f->pred = P;
        f->gx = (valid(pE) ? pE : P) - (valid(pW) ? pW : P);
        f->gy = (valid(pS) ? pS : P) - (valid(pN) ? pN : P);
    } else {
        /* No previous reading here: predict from this frame's neighbours (kind 1). */
        f->kind = 1;
        if (valid(Wv) && valid(Nv) && valid(NWv))
            f->pred = med3(Wv, Nv, Wv + Nv - NWv);
        else
            f->pred = valid(Wv) ? Wv : (valid(Nv) ? Nv : 128);
        f->gx = f->gy = 0;
    }
    {   /* how often this pixel and its neighbours changed lately */
        const uint8_t *vol = m->volatility;
        int vm = vol[i];
        if ((!edge || x > 0) && vol[i - 1] > vm) vm = vol[i - 1];
        if ((!edge || x < W - 1) && vol[i + 1] > vm) vm = vol[i + 1];
        if ((!edge || y > 0) && vol[i - W] > vm) vm = vol[i - W];
        if ((!edge || y < H - 1) && vol[i + W] > vm) vm = vol[i + W];
        f->vmq = volatility_class[vm];
    }
    {   /* How long the code has held, and its last change. */
        int a = m->age[i];
        f->ageq = age_class[a];
        f->last = m->last_change[i];
        /* Which of the last five frames changed it (flicker's pattern), or, when none did, its age. */
        int hb = m->changes[i] & 0x1F;
        f->hist = hb ? hb : 32 + f->ageq;
    }
    /* The neighbours' change, as LOCO-I's median predictor would guess it. */
    if (f->rW != SENTINEL && f->rN != SENTINEL && f->rNW != SENTINEL)
        f->mr = med3(f->rW, f->rN, f->rW + f->rN - f->rNW);
    else if (f->rW != SENTINEL) {
        f->mr = f->rW;
    } else if (f->rN != SENTINEL) {
        f->mr = f->rN;
    } else {
        f->mr = SENTINEL;
    }
    /* Where the neighbours changed a lot (something moved), the previous frame is a poor guess:
     * predict from this frame's neighbours instead (kind 2). */
    if (f->kind == 0 && f->mr != SENTINEL && abs(f->mr) >= SWITCH_RESIDUAL) {
        int q = valid(Wv) && valid(Nv) && valid(NWv) ? med3(Wv, Nv, Wv + Nv - NWv) : P + f->mr;
        f->pred = q < 0 ? 0 : (q > MAX_CODE ? MAX_CODE : q);
        f->kind = 2;
    }
    f->sgx = (valid(Wv) && valid(NWv)) ? Wv - NWv : SENTINEL;
    f->sgy = (valid(Nv) && valid(NWv)) ? Nv - NWv : SENTINEL;
    {   /* Models 5..7: the codes around this one, in this frame and the last. */
        /* Two pixels out: tested here even for the interior, which is one pixel in. */
        int WW = x > 1 ? cur[i - 2] : -1;
        int NN = y > 1 ? cur[i - 2 * W] : -1;
        int NEE = y > 0 && x < W - 2 ? cur[i - W + 2] : -1;
        f->near[0][0] = near_code[Wv + 1];
        f->near[0][1] = near_code[Nv + 1];
        f->near[0][2] = near_code[NEv + 1];
        f->near[1][0] = near_code[WW + 1];
        f->near[1][1] = near_code[NN + 1];
        f->near[1][2] = near_code[NEE + 1];
        f->near[2][0] = near_code[P + 1];
        f->near[2][1] = near_code[pE + 1];
        f->near[2][2] = near_code[pS + 1];
        for (int k = 0; k < NEARBY_MODELS; k++) f->near_pred[k] = near_index(f->near[k], f->pred);
    }
    f->dW = valid(Wv) ? Wv - f->pred : SENTINEL;
    f->dN = valid(Nv) ? Nv - f->pred : SENTINEL;
}

/* One bit's prediction: the slots it reads, the mixer inputs, the mixed probability. */
typedef struct {
    Slot *slot[MODELS];
#ifdef __wasm_simd128__
    v128_t input_lo, input_hi;  /* inputs 0..7; input 8 is BIAS_INPUT */
#else
    int input[INPUTS];
#endif
    int set;
    int set2;
    int mix, mix2;  /* each mixer's own probability, which trains it */
    int p;
} Prediction;

static inline __attribute__((always_inline)) void predict(Model *m, const Features *f, int bin, int sign, Prediction *pr)
{
    int bb = bin * 2 + sign;
    if (bb < 10) {
        int g = group_index[bb];
        for (int i = 0; i < HASHED_MODELS; i++) pr->slot[i] = f->group[i] + g;
    } else {
        for (int i = 0; i < HASHED_MODELS; i++) pr->slot[i] = &m->slot[i][slot_of(f->base[i], bb)];
    }
    {   /* Models 4..7, by the code the bit asks about (pred, or pred + (bin - 2) in the sign's
         * direction) and the bin. Model 4: a sensor does not reach every code alike (far away one
         * disparity step spans several codes), and this learns, per code, how each question tends
         * to be answered. Models 5..7: where that code lies against the codes around it, in this
         * frame and the last; a code that jumps mostly lands on a neighbour's. */
        int c = bin < 3 ? f->pred : f->pred + (sign ? bin - 2 : 2 - bin);
        int v = c < 0 ? 255 : (c > 255 ? 255 : c);
        unsigned near[NEARBY_MODELS];  /* unsigned: its levels come out by shifts */
        for (int k = 0; k < NEARBY_MODELS; k++) {
            near[k] = bin < 3 ? f->near_pred[k] : near_index(f->near[k], c);
            pr->slot[HASHED_MODELS + 1 + k] = &m->nearby[k][near[k] * BIN_KINDS + bb];
        }
        /* Model 4 with model 5's level of N: the code's own habits, split by where it lies against
         * the code above. */
        int near_n = near[0] / NEAR_LEVELS % NEAR_LEVELS;
        pr->slot[HASHED_MODELS] = &m->value[(v * NEAR_LEVELS + near_n) * BIN_KINDS + bb];
        /* Mixer 1 picks its weights by model 5's levels of W and N. */
        int moved = f->moved_now > 0;
        /* Mixer 2: whether t-1's codes east and south were the code asked (model 7's levels 3). */
        int east_at = near[2] / NEAR_LEVELS % NEAR_LEVELS == NEAR_REACH, south_at = near[2] % NEAR_LEVELS == NEAR_REACH;
        pr->set2 = bb * MIXER2_CONTEXTS + f->mixer2_base * 4 + east_at * 2 + south_at;
        pr->set = bb * MIXER_CONTEXTS + ((moved * NEAR_LEVELS * NEAR_LEVELS + near[0] / NEAR_LEVELS) * 3 + f->kind);
    }
    const int32_t *w1 = m->weight[pr->set], *w2 = m->weight2[pr->set2];
    int64_t dot, dot2;
#ifdef __wasm_simd128__
    /* Eight products at a time, each in 64 bits as below (weights reach 2^23, inputs 2^11). */
    v128_t lo = wasm_i32x4_make(stretch_table[pr->slot[0]->p >> 4], stretch_table[pr->slot[1]->p >> 4],
                                stretch_table[pr->slot[2]->p >> 4], stretch_table[pr->slot[3]->p >> 4]);
    v128_t hi = wasm_i32x4_make(stretch_table[pr->slot[4]->p >> 4], stretch_table[pr->slot[5]->p >> 4],
                                stretch_table[pr->slot[6]->p >> 4], stretch_table[pr->slot[7]->p >> 4]);
    pr->input_lo = lo;
    pr->input_hi = hi;
    v128_t a1 = wasm_v128_load(w1), b1 = wasm_v128_load(w1 + 4), a2 = wasm_v128_load(w2), b2 = wasm_v128_load(w2 + 4);
    v128_t s1 = wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_extmul_low_i32x4(a1, lo), wasm_i64x2_extmul_high_i32x4(a1, lo)),
                               wasm_i64x2_add(wasm_i64x2_extmul_low_i32x4(b1, hi), wasm_i64x2_extmul_high_i32x4(b1, hi)));
    v128_t s2 = wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_extmul_low_i32x4(a2, lo), wasm_i64x2_extmul_high_i32x4(a2, lo)),
                               wasm_i64x2_add(wasm_i64x2_extmul_low_i32x4(b2, hi), wasm_i64x2_extmul_high_i32x4(b2, hi)));
    dot = wasm_i64x2_extract_lane(s1, 0) + wasm_i64x2_extract_lane(s1, 1) + (int64_t)w1[MODELS] * BIAS_INPUT;
    dot2 = wasm_i64x2_extract_lane(s2, 0) + wasm_i64x2_extract_lane(s2, 1) + (int64_t)w2[MODELS] * BIAS_INPUT;
#else
    for (int i = 0; i < MODELS; i++) pr->input[i] = stretch_table[pr->slot[i]->p >> 4];
    pr->input[INPUTS - 1] = BIAS_INPUT;
    dot = dot2 = 0;
    for (int i = 0; i < INPUTS; i++) {
        dot += (int64_t)w1[i] * pr->input[i];
        dot2 += (int64_t)w2[i] * pr->input[i];
    }
#endif
    int d1 = (int)(dot >> 16), d2 = (int)(dot2 >> 16);
    d1 = d1 < -2047 ? -2047 : (d1 > 2047 ? 2047 : d1);
    d2 = d2 < -2047 ? -2047 : (d2 > 2047 ? 2047 : d2);
    pr->mix = squash_of[d1 + 2047];
    pr->mix2 = squash_of[d2 + 2047];
    int p = squash_of[((d1 + d2) >> 1) + 2047];
    pr->p = p < 1 ? 1 : (p > 4095 ? 4095 : p);
}

static inline int limit_weight(int v)
{
    return v > WEIGHT_LIMIT ? WEIGHT_LIMIT : (v < -WEIGHT_LIMIT ? -WEIGHT_LIMIT : v);
}

static void train(int32_t *w, const Prediction *pr, int err)
{
#ifdef __wasm_simd128__
    /* input · err stays within 32 bits (2^11 · 2^14) */
    v128_t e = wasm_i32x4_splat(err), top = wasm_i32x4_splat(WEIGHT_LIMIT), bottom = wasm_i32x4_splat(-WEIGHT_LIMIT);
    v128_t a = wasm_i32x4_add(wasm_v128_load(w), wasm_i32x4_shr(wasm_i32x4_mul(pr->input_lo, e), 12));
    v128_t b = wasm_i32x4_add(wasm_v128_load(w + 4), wasm_i32x4_shr(wasm_i32x4_mul(pr->input_hi, e), 12));
    wasm_v128_store(w, wasm_i32x4_max(wasm_i32x4_min(a, top), bottom));
    wasm_v128_store(w + 4, wasm_i32x4_max(wasm_i32x4_min(b, top), bottom));
    w[MODELS] = limit_weight(w[MODELS] + ((BIAS_INPUT * err) >> 12));
#else
    for (int i = 0; i < INPUTS; i++) w[i] = limit_weight(w[i] + ((pr->input[i] * err) >> 12));
#endif
}

static inline __attribute__((always_inline)) void update(Model *m, const Prediction *pr, int bit)
{
    int e1 = (bit << 12) - pr->mix, e2 = (bit << 12) - pr->mix2;
    if (e1 > TRAIN_SKIP || e1 < -TRAIN_SKIP) train(m->weight[pr->set], pr, e1 * MIXER_RATE);
    if (e2 > TRAIN_SKIP || e2 < -TRAIN_SKIP) train(m->weight2[pr->set2], pr, e2 * MIXER_RATE);
    for (int i = 0; i < MODELS; i++) {
        Slot *t = pr->slot[i];
        int n = t->n, p = t->p;
        p += (((bit << 16) - bit - p) * reciprocal[n]) >> 14;
        t->p = (uint16_t)p;
        t->n = (uint16_t)(n + (n < COUNT_LIMIT));  /* no branch: whether a slot is full is a coin toss */
    }
}

/* Binary arithmetic coder (32-bit, carry-less, as in lpaq). */
typedef struct {
    uint32_t x1, x2, x;
    uint8_t *out;
    size_t out_len, out_cap;
    const uint8_t *in;
    size_t in_len, in_pos;
} Coder;

static int put_byte(Coder *c, uint8_t b)
{
    if (c->out_len == c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        uint8_t *o = realloc(c->out, cap);
        if (!o) return -1;
        c->out = o;
        c->out_cap = cap;
    }
    c->out[c->out_len++] = b;
    return 0;
}

static uint8_t get_byte(Coder *c)
{
    return c->in_pos < c->in_len ? c->in[c->in_pos++] : 0;
}

static int code_bit(Coder *c, int encoding, int bit, int p)
{
    uint32_t xmid = c->x1 + ((c->x2 - c->x1) >> 12) * (uint32_t)p;
    if (!encoding) bit = c->x <= xmid;
    if (bit) c->x2 = xmid; else c->x1 = xmid + 1;
    while (((c->x1 ^ c->x2) & 0xFF000000u) == 0) {
        if (encoding) {
            if (put_byte(c, (uint8_t)(c->x2 >> 24))) return -1;
        } else {
            c->x = (c->x << 8) | get_byte(c);
        }
        c->x1 <<= 8;
        c->x2 = (c->x2 << 8) | 255;
    }
    return bit;
}

#ifndef __wasm__
static int flush(Coder *c)
{
    /* The shortest byte string that, padded with zero bytes, lies in [x1, x2]. */
    for (int k = 1; k <= 4; k++) {
        int shift = 32 - 8 * k;
        uint64_t v = k == 4 ? c->x1 : ((((uint64_t)c->x1 >> shift) + 1) << shift);
        if (v <= c->x2) {
            for (int j = 0; j < k; j++)
                if (put_byte(c, (uint8_t)(v >> (24 - 8 * j)))) return -1;
            return 0;
        }
    }
    return 0;
}
#endif

static inline __attribute__((always_inline)) int code_modelled(Model *m, Coder *c, int encoding, const Features *f, int bin, int sign, int bit)
{
    Prediction pr;
    predict(m, f, bin, sign, &pr);
    bit = code_bit(c, encoding, bit, pr.p);
    if (bit < 0) return -1;
    update(m, &pr, bit);
    return bit;
}

/* Codes one frame; `cur` is read when encoding and written when decoding. */
static int code_frame(Model *m, Coder *c, int encoding, uint8_t *cur)
{
    int W = m->width, H = m->height;
    size_t n = (size_t)W * H;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            Features f;
            if (x == 0 || y == 0 || x == W - 1 || y == H - 1)
                features(m, cur, x, y, &f, 1);
            else
                features(m, cur, x, y, &f, 0);
            context_hashes(m, &f);
            int v = encoding ? cur[i] : 0;
            int none, nonzero;
            if (f.kind == 1) {
                none = code_modelled(m, c, encoding, &f, 0, 0, v == NO_READING);
                nonzero = none ? 0 : code_modelled(m, c, encoding, &f, 1, 0, v != f.pred);
            } else {
                /* A reading here before: most codes are their prediction, so that is asked first
                 * and such a pixel costs one modelled bit. */
                nonzero = code_modelled(m, c, encoding, &f, 1, 0, v != f.pred);
                none = nonzero > 0 ? code_modelled(m, c, encoding, &f, 0, 0, v == NO_READING) : 0;
            }
            if (none < 0 || nonzero < 0) return -1;
            if (none) {
                v = NO_READING;
            } else {
                int e = encoding ? v - f.pred : 0;
                if (nonzero) {
                    int positive = code_modelled(m, c, encoding, &f, 2, 0, e > 0);
                    if (positive < 0) return -1;
                    int mag = abs(e) - 1, k = 0;
                    for (; k < UNARY_BINS; k++) {
                        int bin = 3 + (k < 12 ? k : 12);
                        int more = code_modelled(m, c, encoding, &f, bin, positive, mag > k);
                        if (more < 0) return -1;
                        if (!more) break;
                    }
                    if (k == UNARY_BINS) {
                        int rest = mag - UNARY_BINS, got = 0;
                        for (int b = ESCAPE_BITS - 1; b >= 0; b--) {
                            int bit = code_bit(c, encoding, (rest >> b) & 1, 2048);
                            if (bit < 0) return -1;
                            got |= bit << b;
                        }
                        mag = UNARY_BINS + got;
                    } else {
                        mag = k;
                    }
                    e = positive ? mag + 1 : -(mag + 1);
                } else {
                    e = 0;
                }
                v = f.pred + e;
                if (!encoding && (v < 0 || v >= NO_READING)) {
                    m->bad_code = v;
                    m->bad_pixel = i;
                    return -2;
                }
            }
            if (!encoding) cur[i] = (uint8_t)v;
            int P = m->frame[0][i];
            m->residual[i] = (v != NO_READING && P != NO_READING) ? (int16_t)(v - P) : SENTINEL;
        }
    }
    const uint8_t *prev = m->frame[0];
    for (size_t k = 0; k < n; k++) {
        int v = cur[k], h = prev[k], vol = m->volatility[k];
        m->volatility[k] = (uint8_t)(vol - (vol >> 3) + (v != h ? 8 : 0));
        m->changes[k] = (uint8_t)((m->changes[k] << 1) | (v != h));
        if (v == h) {
            if (m->age[k] < 255) m->age[k]++;
        } else {
            int d = (v == NO_READING || h == NO_READING) ? 0 : v - h;
            m->age[k] = 0;
            m->last_change[k] = (int8_t)(d < -8 ? -8 : (d > 8 ? 8 : d));
        }
    }
    /* Shift history: t-3 <- t-2 <- t-1 <- this frame (t-3's buffer takes this frame). */
    uint8_t *oldest = m->frame[2];
    memcpy(oldest, cur, n);
    m->frame[2] = m->frame[1];
    m->frame[1] = m->frame[0];
    m->frame[0] = oldest;
    return 0;
}

/* After a keyframe is coded: it is all three frames of the history. */
static void settle_keyframe(Model *m)
{
    size_t n = (size_t)m->width * m->height;
    memcpy(m->frame[1], m->frame[0], n);
    memcpy(m->frame[2], m->frame[0], n);
}

#ifndef __wasm__
/* ---- Python object ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Model *model;
    int ready;
} ContextCoderObject;

static void coder_dealloc(ContextCoderObject *self)
{
    if (self->model) {
        free(self->model->history);
        free(self->model->residual);
        free(self->model->volatility);
        free(self->model->age);
        free(self->model->last_change);
        free(self->model->changes);
        free(self->model);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int coder_init(ContextCoderObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"width", "height", NULL};
    int width, height;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ii", kwlist, &width, &height)) return -1;
    if (width <= 0 || height <= 0 || width > 4096 || height > 4096) {
        PyErr_SetString(PyExc_ValueError, "frame size out of range");
        return -1;
    }
    Model *m = calloc(1, sizeof(Model));
    if (!m) { PyErr_NoMemory(); return -1; }
    m->width = width;
    m->height = height;
    m->history = malloc((size_t)3 * width * height);
    m->residual = malloc(sizeof(int16_t) * (size_t)width * height);
    m->volatility = calloc((size_t)width * height, 1);
    m->age = malloc((size_t)width * height);
    m->changes = malloc((size_t)width * height);
    m->last_change = malloc((size_t)width * height);
    if (!m->history || !m->residual || !m->volatility || !m->age || !m->last_change || !m->changes) {
        free(m->history); free(m->residual); free(m->volatility);
        free(m->age); free(m->last_change); free(m->changes); free(m);
        PyErr_NoMemory();
        return -1;
    }
    self->model = m;
    self->ready = 0;
    return 0;
}

static int check_frame(ContextCoderObject *self, Py_buffer *view)
{
    if ((size_t)view->len != (size_t)self->model->width * self->model->height) {
        PyErr_Format(PyExc_ValueError, "expected %d x %d codes, got %zd bytes",
                     self->model->width, self->model->height, view->len);
        return -1;
    }
    return 0;
}

typedef PyObject *(*FrameCoding)(ContextCoderObject *self, PyObject *arg);
static PyObject *coder_encode(ContextCoderObject *self, PyObject *arg);
static PyObject *coder_decode(ContextCoderObject *self, PyObject *arg);

/* A keyframe: the delta coding from a blank model, then the keyframe is all of the history. */
static PyObject *code_keyframe(ContextCoderObject *self, PyObject *arg, FrameCoding code)
{
    model_reset(self->model);
    self->ready = 1;
    PyObject *out = code(self, arg);
    if (out) settle_keyframe(self->model);
    return out;
}

static PyObject *coder_encode_keyframe(ContextCoderObject *self, PyObject *arg)
{
    return code_keyframe(self, arg, coder_encode);
}

static PyObject *coder_decode_keyframe(ContextCoderObject *self, PyObject *arg)
{
    return code_keyframe(self, arg, coder_decode);
}

static PyObject *coder_encode(ContextCoderObject *self, PyObject *arg)
{
    if (!self->ready) { PyErr_SetString(PyExc_RuntimeError, "code a keyframe first"); return NULL; }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    if (check_frame(self, &view)) { PyBuffer_Release(&view); return NULL; }
    uint8_t *codes = malloc(view.len);
    if (!codes) { PyBuffer_Release(&view); return PyErr_NoMemory(); }
    memcpy(codes, view.buf, view.len);
    PyBuffer_Release(&view);
    Coder c = {0, 0xFFFFFFFFu, 0, NULL, 0, 0, NULL, 0, 0};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = code_frame(self->model, &c, 1, codes);
    if (rc == 0) rc = flush(&c);
    Py_END_ALLOW_THREADS
    free(codes);
    if (rc) { free(c.out); self->ready = 0; return PyErr_NoMemory(); }
    PyObject *out = PyBytes_FromStringAndSize((const char *)c.out, (Py_ssize_t)c.out_len);
    free(c.out);
    return out;
}

static PyObject *coder_decode(ContextCoderObject *self, PyObject *arg)
{
    if (!self->ready) { PyErr_SetString(PyExc_RuntimeError, "code a keyframe first"); return NULL; }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    size_t n = (size_t)self->model->width * self->model->height;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!out) { PyBuffer_Release(&view); return NULL; }
    Coder c = {0, 0xFFFFFFFFu, 0, NULL, 0, 0, view.buf, (size_t)view.len, 0};
    for (int k = 0; k < 4; k++) c.x = (c.x << 8) | get_byte(&c);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = code_frame(self->model, &c, 0, (uint8_t *)PyBytes_AS_STRING(out));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (rc) {
        Py_DECREF(out);
        self->ready = 0;  /* the model state is no longer the encoder's */
        PyErr_Format(PyExc_ValueError, "payload decodes to code %d at pixel %d",
                     self->model->bad_code, self->model->bad_pixel);
        return NULL;
    }
    return out;
}

static PyMethodDef coder_methods[] = {
    {"encode", (PyCFunction)coder_encode, METH_O,
     "encode(codes) -> bytes: code one delta frame and advance the model."},
    {"decode", (PyCFunction)coder_decode, METH_O,
     "decode(payload) -> bytes: the codes of one delta frame; advances the model."},
    {"encode_keyframe", (PyCFunction)coder_encode_keyframe, METH_O,
     "encode_keyframe(codes) -> bytes: start a group of pictures, coding its keyframe."},
    {"decode_keyframe", (PyCFunction)coder_decode_keyframe, METH_O,
     "decode_keyframe(payload) -> bytes: the codes of a keyframe; starts a group of pictures."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ContextCoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "depthcam.codec._contextmodel.ContextCoder",
    .tp_doc = "ContextCoder(width, height): one stream's context-mixing model and coder.",
    .tp_basicsize = sizeof(ContextCoderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)coder_init,
    .tp_dealloc = (destructor)coder_dealloc,
    .tp_methods = coder_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_contextmodel",
    "The compiled context-mixing coder of the classic profile's delta frames.", -1, NULL,
};

PyMODINIT_FUNC PyInit__contextmodel(void)
{
    init_tables();
    if (PyType_Ready(&ContextCoderType) < 0) return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (!mod) return NULL;
    Py_INCREF(&ContextCoderType);
    if (PyModule_AddObject(mod, "ContextCoder", (PyObject *)&ContextCoderType) < 0) {
        Py_DECREF(&ContextCoderType);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
#endif /* !__wasm__ */

#ifdef __wasm__
/* ---- WebAssembly decoder ---------------------------------------------------------------- */

/* What clang may call for struct copies and loops, and the coder calls itself. */
void *memset(void *to, int value, size_t n)
{
    uint8_t *t = to;
    if (((uintptr_t)t & 7) == 0) {  /* 8 bytes a step where aligned: the history is reset per keyframe */
        uint64_t word = 0x0101010101010101ull * (uint8_t)value;
        for (; n >= 8; n -= 8, t += 8) *(uint64_t *)t = word;
    }
    while (n--) *t++ = (uint8_t)value;
    return to;
}

void *memcpy(void *restrict to, const void *restrict from, size_t n)
{
    uint8_t *t = to;
    const uint8_t *f = from;
    if ((((uintptr_t)t | (uintptr_t)f) & 7) == 0)  /* 8 bytes a step where both are aligned: frames */
        for (; n >= 8; n -= 8, t += 8, f += 8) *(uint64_t *)t = *(const uint64_t *)f;
    while (n--) *t++ = *f++;
    return to;
}

#define WASM_PAGE_BYTES 65536
extern unsigned char __heap_base;

/* One stream's model (the worker decodes one stream), and its buffers past __heap_base. */
static Model wasm_model;
static int wasm_ready;
static uint8_t *wasm_codes, *wasm_input;
static size_t wasm_input_cap;
static uint8_t *heap_top;

/* Bump allocation: everything is laid out again by cm_init, so nothing is freed one by one. */
static void *wasm_alloc(size_t bytes)
{
    uint8_t *start = (uint8_t *)(((uintptr_t)heap_top + 15) & ~(uintptr_t)15);
    size_t end = (size_t)(start + bytes);
    size_t have = __builtin_wasm_memory_size(0) * WASM_PAGE_BYTES;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + WASM_PAGE_BYTES - 1) / WASM_PAGE_BYTES) == (size_t)-1)
        return NULL;
    heap_top = start + bytes;
    return start;
}

/* A model for width x height frames; 0, or -1 when out of range or out of memory. */
__attribute__((export_name("cm_init"))) int cm_init(int width, int height)
{
    static int tables_ready;
    if (!tables_ready) { init_tables(); tables_ready = 1; }
    if (width <= 0 || height <= 0 || width > 4096 || height > 4096) return -1;
    size_t n = (size_t)width * height;
    heap_top = &__heap_base;
    wasm_ready = 0;
    wasm_input_cap = 0;
    wasm_model.width = width;
    wasm_model.height = height;
    wasm_model.history = wasm_alloc(3 * n);
    wasm_model.residual = wasm_alloc(sizeof(int16_t) * n);
    wasm_model.volatility = wasm_alloc(n);
    wasm_model.age = wasm_alloc(n);
    wasm_model.last_change = wasm_alloc(n);
    wasm_model.changes = wasm_alloc(n);
    wasm_codes = wasm_alloc(n);
    wasm_input = NULL;
    return wasm_model.history && wasm_model.residual && wasm_model.volatility && wasm_model.age && wasm_model.last_change && wasm_model.changes && wasm_codes ? 0 : -1;
}

/* Where the caller writes a payload of `bytes` bytes (NULL when out of memory). */
__attribute__((export_name("cm_input"))) uint8_t *cm_input(size_t bytes)
{
    if (bytes > wasm_input_cap) {
        wasm_input = wasm_alloc(bytes);
        wasm_input_cap = wasm_input ? bytes : 0;
    }
    return wasm_input;
}

/* Where cm_decode leaves the codes (width x height bytes). */
__attribute__((export_name("cm_codes"))) uint8_t *cm_codes(void) { return wasm_codes; }

/* Decodes the payload at cm_input (after its CRC): 0, -2 for a code out of range (then
 * cm_bad_code/cm_bad_pixel say which), -3 for a delta without a keyframe before it. */
__attribute__((export_name("cm_decode"))) int cm_decode(int keyframe, size_t bytes)
{
    if (keyframe) {
        model_reset(&wasm_model);
        wasm_ready = 1;
    } else if (!wasm_ready) {
        return -3;
    }
    Coder c = {0, 0xFFFFFFFFu, 0, NULL, 0, 0, wasm_input, bytes, 0};
    for (int k = 0; k < 4; k++) c.x = (c.x << 8) | get_byte(&c);
    int rc = code_frame(&wasm_model, &c, 0, wasm_codes);
    if (rc) {
        wasm_ready = 0;  /* the model state is no longer the encoder's */
        return rc;
    }
    if (keyframe) settle_keyframe(&wasm_model);
    return 0;
}

__attribute__((export_name("cm_bad_code"))) int cm_bad_code(void) { return wasm_model.bad_code; }
__attribute__((export_name("cm_bad_pixel"))) int cm_bad_pixel(void) { return wasm_model.bad_pixel; }
#endif /* __wasm__ */
