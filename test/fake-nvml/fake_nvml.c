/*
 * fake-nvml: a shared library with the NVML C ABI (nvml.h) that replays scripted telemetry.
 *
 * Tests load it in place of libnvidia-ml.so.1 (JOULES_NVML_LIBRARY=/path/to/libnvidia-ml-fake.so).
 * The scenario format, the time base and the faults are described in README.md next to this file.
 *
 * Built twice by build.mjs: the full library, and a "legacy" one (-DFAKE_NVML_LEGACY) that lacks the
 * newer entry points (the _v2/_v3 variants, field values, the power sample ring, architecture and
 * clock-event reasons), like the NVML of an old driver.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------------------------------------
 * ABI: types and constants exactly as in nvml.h
 * ---------------------------------------------------------------------------------------------- */

typedef int nvmlReturn_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_UNKNOWN = 999
};

typedef struct fake_device *nvmlDevice_t;

typedef struct nvmlPciInfo_st {
    char busIdLegacy[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef union nvmlValue_st {
    double dVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    long long sllVal;
    int siVal;
    unsigned short usVal;
} nvmlValue_t;

typedef struct nvmlFieldValue_st {
    unsigned int fieldId;
    unsigned int scopeId;
    long long timestamp;
    long long latencyUsec;
    int valueType;
    int nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

typedef struct nvmlSample_st {
    unsigned long long timeStamp;
    nvmlValue_t sampleValue;
} nvmlSample_t;

typedef struct nvmlUtilization_st {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

typedef struct nvmlMemory_st {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct nvmlProcessInfo_v1_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct nvmlProcessInfo_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct nvmlProcessUtilizationSample_st {
    unsigned int pid;
    unsigned long long timeStamp;
    unsigned int smUtil;
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t layout");
_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t layout");
_Static_assert(sizeof(nvmlSample_t) == 16, "nvmlSample_t layout");
_Static_assert(sizeof(nvmlUtilization_t) == 8, "nvmlUtilization_t layout");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t layout");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t layout");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t layout");
_Static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "nvmlProcessUtilizationSample_t layout");

#define NVML_FI_DEV_POWER_AVERAGE 185
#define NVML_FI_DEV_POWER_INSTANT 186
#define NVML_VALUE_TYPE_UNSIGNED_INT 1
#define NVML_TOTAL_POWER_SAMPLES 0
#define NVML_GPU_UTILIZATION_SAMPLES 1

/* ------------------------------------------------------------------------------------------------
 * Scenario model
 * ---------------------------------------------------------------------------------------------- */

#define MAX_DEVICES 16
#define MAX_FAULTS 128
#define MAX_PROC_RULES 64
#define MAX_PROC_HITS 256
#define RING_ENTRIES 120
#define RING_PERIOD_S 0.02
/* Utilization ring: one sample per 1/6 s (the shortest period nvidia-smi documents), 100 deep. */
#define UTIL_RING_ENTRIES 100
#define UTIL_RING_PERIOD_S (1.0 / 6.0)
#define ENERGY_UPDATES_PER_S 10.0

/* Time series carried by every point. */
enum {
    S_POWER, S_INSTANT, S_UTIL, S_MEM_UTIL, S_MEM_USED, S_SM_CLOCK, S_MEM_CLOCK, S_GFX_CLOCK,
    S_TEMP, S_REASONS, S_PSTATE, S_COUNT
};
static const char *const series_keys[S_COUNT] = {
    "power", "instant", "util", "mem_util", "mem_used", "sm_clock", "mem_clock", "gfx_clock",
    "temp", "reasons", "pstate"
};
/* Values of a device with no points, and of keys its first point leaves out. */
static const double series_defaults[S_COUNT] = {
    100000, 100000, 0, 0, 0, 1980, 3201, 1980, 35, 0, 0
};

/* Metrics a fault can target. The canonical names are the probe's MetricName values. */
enum {
    M_NAME, M_UUID, M_PCI, M_ARCH, M_POWER, M_INSTANT, M_AVG_FIELD, M_SAMPLES, M_ENERGY, M_UTIL,
    M_MEMORY, M_SM_CLOCK, M_MEM_CLOCK, M_GFX_CLOCK, M_TEMP, M_POWER_LIMIT, M_POWER_CONSTRAINTS,
    M_CLOCK_REASONS, M_PSTATE, M_PROCESSES, M_PROCESS_UTIL, M_UTIL_SAMPLES, M_COUNT,
    /* nvmlDeviceGetHandleByIndex: a GPU that fails to open. Not a reading, so not part of `all`. */
    M_HANDLE = M_COUNT
};
static const struct { const char *name; unsigned int mask; } metric_names[] = {
    {"name", 1u << M_NAME},
    {"uuid", 1u << M_UUID},
    {"pciBusId", 1u << M_PCI}, {"pci", 1u << M_PCI},
    {"architecture", 1u << M_ARCH},
    {"powerUsage", 1u << M_POWER}, {"power", 1u << M_POWER},
    {"powerInstant", 1u << M_INSTANT}, {"instant", 1u << M_INSTANT},
    {"powerAverageField", 1u << M_AVG_FIELD}, {"average_field", 1u << M_AVG_FIELD},
    {"powerSamples", 1u << M_SAMPLES}, {"samples", 1u << M_SAMPLES},
    {"energyCounter", 1u << M_ENERGY}, {"energy", 1u << M_ENERGY},
    {"utilization", 1u << M_UTIL},
    {"memoryInfo", 1u << M_MEMORY}, {"memory", 1u << M_MEMORY},
    {"smClock", 1u << M_SM_CLOCK}, {"sm_clock", 1u << M_SM_CLOCK},
    {"memClock", 1u << M_MEM_CLOCK}, {"mem_clock", 1u << M_MEM_CLOCK},
    {"graphicsClock", 1u << M_GFX_CLOCK}, {"gfx_clock", 1u << M_GFX_CLOCK},
    {"clocks", (1u << M_SM_CLOCK) | (1u << M_MEM_CLOCK) | (1u << M_GFX_CLOCK)},
    {"temperature", 1u << M_TEMP},
    {"powerLimit", 1u << M_POWER_LIMIT}, {"power_limit", 1u << M_POWER_LIMIT},
    {"powerLimitConstraints", 1u << M_POWER_CONSTRAINTS}, {"power_constraints", 1u << M_POWER_CONSTRAINTS},
    {"clockEventReasons", 1u << M_CLOCK_REASONS}, {"clock_reasons", 1u << M_CLOCK_REASONS},
    {"performanceState", 1u << M_PSTATE}, {"pstate", 1u << M_PSTATE},
    {"computeProcesses", 1u << M_PROCESSES}, {"processes", 1u << M_PROCESSES},
    {"processUtilization", 1u << M_PROCESS_UTIL}, {"process_util", 1u << M_PROCESS_UTIL},
    {"utilizationSamples", 1u << M_UTIL_SAMPLES}, {"util_samples", 1u << M_UTIL_SAMPLES},
    {"all", (1u << M_COUNT) - 1},
    {"handle", 1u << M_HANDLE},
};

static const struct { const char *name; int code; } code_names[] = {
    {"not_supported", NVML_ERROR_NOT_SUPPORTED}, {"no_permission", NVML_ERROR_NO_PERMISSION},
    {"invalid_argument", NVML_ERROR_INVALID_ARGUMENT}, {"not_found", NVML_ERROR_NOT_FOUND},
    {"uninitialized", NVML_ERROR_UNINITIALIZED}, {"driver_not_loaded", NVML_ERROR_DRIVER_NOT_LOADED},
    {"timeout", NVML_ERROR_TIMEOUT}, {"gpu_is_lost", NVML_ERROR_GPU_IS_LOST},
    {"no_data", NVML_ERROR_NO_DATA}, {"unknown", NVML_ERROR_UNKNOWN},
    {"insufficient_size", NVML_ERROR_INSUFFICIENT_SIZE}, {"in_use", NVML_ERROR_IN_USE},
    {"reset_required", NVML_ERROR_RESET_REQUIRED}, {"library_not_found", NVML_ERROR_LIBRARY_NOT_FOUND},
    {"lib_rm_version_mismatch", NVML_ERROR_LIB_RM_VERSION_MISMATCH},
};

static const struct { const char *name; unsigned int value; } arch_names[] = {
    {"kepler", 2}, {"maxwell", 3}, {"pascal", 4}, {"volta", 5}, {"turing", 6},
    {"ampere", 7}, {"ada", 8}, {"hopper", 9}, {"blackwell", 10},
};

typedef struct {
    double t;
    double v[S_COUNT];
    unsigned char given[S_COUNT];
} point_t;

typedef struct fake_device {
    int index;
    char name[96];
    char uuid[96];
    unsigned int pci_domain, pci_bus, pci_dev, pci_fn;
    unsigned int pci_device_id, pci_subsys_id;
    unsigned int arch;
    unsigned long long mem_total;
    unsigned int power_limit, power_min, power_max;
    unsigned long long energy_base;
    double lost_at;             /* +inf: never */
    unsigned int slow_energy_ms;
    point_t *points;
    int npoints, cap;
} fake_device;

typedef struct {
    int gpu;                    /* -1: every device */
    unsigned int metrics;       /* bit per M_* */
    int code;
    double from, to;
} fault_t;

typedef struct {
    int gpu;
    char match[256];            /* substring of /proc/<pid>/cmdline; empty when pid is set */
    unsigned int pid;
    unsigned long long mem;
    unsigned int sm, mem_util, enc, dec;
    double from, to;
} proc_rule_t;

typedef struct {
    unsigned int pid;
    const proc_rule_t *rule;
} proc_hit_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* Scenario (valid while g_loaded). */
static int g_loaded;
static fake_device g_devs[MAX_DEVICES];
static int g_ndev;
static fault_t g_faults[MAX_FAULTS];
static int g_nfaults;
static proc_rule_t g_rules[MAX_PROC_RULES];
static int g_nrules;
static int g_linear;
static int g_init_fail;         /* 0, or the code nvmlInit returns */
static char g_driver_version[80];
static char g_nvml_version[80];

/* Time base. */
static double g_speed = 1.0;
static double g_offset = 0.0;
/* FAKE_NVML_EPOCH_S: Unix time (s) at which scenario time OFFSET happens; 0 = at the first init. */
static double g_epoch = 0.0;
static int g_clock_started;
static struct timespec g_mono0;
static long long g_real0_us;

static int g_refcount;

static const char *const builtin_scenario =
    "# built-in default: one idle H200\n"
    "device name=\"NVIDIA H200 (fake)\" arch=hopper\n"
    "at 0 power=100W util=0 mem_util=0 mem_used=0 sm_clock=345 mem_clock=3201 temp=32 reasons=0x1 pstate=0\n";

/* ------------------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------------------- */

static void lock(void) { pthread_mutex_lock(&g_lock); }
static void unlock(void) { pthread_mutex_unlock(&g_lock); }

static double scen_now(void)
{
    if (!g_clock_started)
        return g_offset;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double elapsed = (double)(ts.tv_sec - g_mono0.tv_sec) + (double)(ts.tv_nsec - g_mono0.tv_nsec) / 1e9;
    return elapsed * g_speed + g_offset;
}

/* Wall-clock (CLOCK_REALTIME) microseconds at which scenario time `ts` happens. */
static long long wall_us_at(double ts)
{
    double speed = g_speed > 0 ? g_speed : 1.0;
    return g_real0_us + llround((ts - g_offset) / speed * 1e6);
}

static void free_scenario(void)
{
    for (int i = 0; i < g_ndev; i++)
        free(g_devs[i].points);
    memset(g_devs, 0, sizeof g_devs);
    g_ndev = 0;
    g_nfaults = 0;
    g_nrules = 0;
    g_linear = 0;
    g_init_fail = 0;
    g_loaded = 0;
}

static int valid_device(const fake_device *d)
{
    uintptr_t p = (uintptr_t)d, base = (uintptr_t)g_devs;
    if (p < base || p >= base + (uintptr_t)g_ndev * sizeof(fake_device))
        return 0;
    return (p - base) % sizeof(fake_device) == 0;
}

static double series_at(const fake_device *d, int k, double t)
{
    const point_t *p = d->points;
    int n = d->npoints;
    if (t < p[0].t)
        return p[0].v[k];
    if (t >= p[n - 1].t)
        return p[n - 1].v[k];
    int lo = 0, hi = n - 1;     /* p[lo].t <= t < p[hi].t */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (p[mid].t <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (!g_linear || k == S_REASONS || k == S_PSTATE || p[hi].t <= p[lo].t)
        return p[lo].v[k];
    double f = (t - p[lo].t) / (p[hi].t - p[lo].t);
    return p[lo].v[k] + f * (p[hi].v[k] - p[lo].v[k]);
}

/* Integral of the power series (mW) from scenario time 0 to T, in mJ. */
static double power_integral(const fake_device *d, double T)
{
    const point_t *p = d->points;
    int n = d->npoints;
    if (T <= 0)
        return 0;
    double acc = 0;
    if (p[0].t > 0)
        acc += p[0].v[S_POWER] * fmin(T, p[0].t);
    for (int i = 0; i + 1 < n; i++) {
        double a = p[i].t, b = fmin(p[i + 1].t, T);
        if (a >= T)
            break;
        if (b <= a)
            continue;
        if (g_linear) {
            double va = p[i].v[S_POWER];
            double vb = va + (p[i + 1].v[S_POWER] - va) * (b - a) / (p[i + 1].t - a);
            acc += (va + vb) / 2 * (b - a);
        } else {
            acc += p[i].v[S_POWER] * (b - a);
        }
    }
    if (T > p[n - 1].t)
        acc += p[n - 1].v[S_POWER] * (T - p[n - 1].t);
    return acc;
}

static unsigned int u32_of(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 4294967295.0)
        return 4294967295u;
    return (unsigned int)llround(v);
}

static unsigned long long u64_of(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 18446744073709549568.0)
        return 18446744073709549568ull;
    return (unsigned long long)llround(v);
}

/* 0 when the metric works on this device at time t, else the code the scenario injects. */
static int fault_code(const fake_device *d, int metric, double t)
{
    for (int i = 0; i < g_nfaults; i++) {
        const fault_t *f = &g_faults[i];
        if ((f->gpu < 0 || f->gpu == d->index) && (f->metrics & (1u << metric)) && t >= f->from && t < f->to)
            return f->code;
    }
    return 0;
}

/*
 * Common prologue of per-device calls. On NVML_SUCCESS the lock is held and *out / *t are set; on
 * any other code the lock is released. metric < 0: no fault check here (the caller checks later).
 */
static nvmlReturn_t enter(nvmlDevice_t handle, int metric, fake_device **out, double *t)
{
    lock();
    if (g_refcount == 0) {
        unlock();
        return NVML_ERROR_UNINITIALIZED;
    }
    if (!valid_device(handle)) {
        unlock();
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    double now = scen_now();
    if (now >= handle->lost_at) {
        unlock();
        return NVML_ERROR_GPU_IS_LOST;
    }
    if (metric >= 0) {
        int code = fault_code(handle, metric, now);
        if (code) {
            unlock();
            return code;
        }
    }
    *out = handle;
    *t = now;
    return NVML_SUCCESS;
}

static nvmlReturn_t leave(nvmlReturn_t r)
{
    unlock();
    return r;
}

static nvmlReturn_t copy_string(char *dst, unsigned int len, const char *src)
{
    size_t n = strlen(src);
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    if ((size_t)len < n + 1)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, n + 1);
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------------------------------
 * Process attribution
 * ---------------------------------------------------------------------------------------------- */

static int read_cmdline(unsigned int pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%u/cmdline", pid);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return (int)n;
}

static int hit_has(const proc_hit_t *hits, int n, unsigned int pid)
{
    for (int i = 0; i < n; i++)
        if (hits[i].pid == pid)
            return 1;
    return 0;
}

/* Processes attributed to device d at scenario time t (lock held). */
static int collect_procs(const fake_device *d, double t, proc_hit_t *hits)
{
    int n = 0;
    unsigned int self = (unsigned int)getpid();
    for (int r = 0; r < g_nrules; r++) {
        const proc_rule_t *rule = &g_rules[r];
        if (rule->gpu != d->index || t < rule->from || t >= rule->to)
            continue;
        if (rule->pid) {
            if (n < MAX_PROC_HITS && !hit_has(hits, n, rule->pid))
                hits[n++] = (proc_hit_t){rule->pid, rule};
            continue;
        }
        DIR *dir = opendir("/proc");
        if (!dir)
            continue;
        struct dirent *e;
        char cmd[4096];
        while ((e = readdir(dir)) != NULL && n < MAX_PROC_HITS) {
            char *end;
            unsigned long pid = strtoul(e->d_name, &end, 10);
            if (*end != '\0' || pid == 0 || pid == self || pid > 0xffffffffUL)
                continue;
            if (read_cmdline((unsigned int)pid, cmd, sizeof cmd) <= 0)
                continue;
            if (strstr(cmd, rule->match) && !hit_has(hits, n, (unsigned int)pid))
                hits[n++] = (proc_hit_t){(unsigned int)pid, rule};
        }
        closedir(dir);
    }
    return n;
}

/* ------------------------------------------------------------------------------------------------
 * Scenario parser
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
    const char *file;
    int line;
    char msg[512];
} parse_ctx;

#define PARSE_FAIL(ctx, ...)                                                \
    do {                                                                    \
        snprintf((ctx)->msg, sizeof (ctx)->msg, __VA_ARGS__);               \
        return -1;                                                          \
    } while (0)

/* Number with an optional unit: W kW mW (to mW), KiB MiB GiB TiB B (to bytes), s ms (to s),
   % MHz C (no scaling). Hex (0x...) allowed. */
static int parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v))
        return -1;
    static const struct { const char *unit; double mul; } units[] = {
        {"", 1}, {"W", 1000}, {"kW", 1e6}, {"mW", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0},
        {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}, {"s", 1}, {"ms", 0.001}, {"%", 1},
        {"MHz", 1}, {"C", 1},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

static int parse_uint(parse_ctx *ctx, const char *key, const char *val, double max, double *out)
{
    double v;
    if (parse_num(val, &v) != 0 || v < 0 || v > max || v != floor(v))
        PARSE_FAIL(ctx, "%s=%s is not a non-negative integer (units W, mW, GiB, MiB... allowed)", key, val);
    *out = v;
    return 0;
}

static int parse_time(parse_ctx *ctx, const char *key, const char *val, double *out)
{
    double v;
    if (parse_num(val, &v) != 0 || v < 0)
        PARSE_FAIL(ctx, "%s=%s is not a time in seconds >= 0", key, val);
    *out = v;
    return 0;
}

/* Split a line in place into tokens; double quotes group spaces and are removed. */
static int tokenize(parse_ctx *ctx, char *line, char **toks, int max)
{
    int inq = 0;
    for (char *c = line; *c; c++) {
        if (*c == '"')
            inq = !inq;
        else if (*c == '#' && !inq) {
            *c = '\0';
            break;
        }
    }
    if (inq)
        PARSE_FAIL(ctx, "unterminated double quote");
    int n = 0;
    char *r = line;
    for (;;) {
        while (*r && isspace((unsigned char)*r))
            r++;
        if (!*r)
            break;
        if (n == max)
            PARSE_FAIL(ctx, "too many words on one line (at most %d)", max);
        char *w = r;
        toks[n++] = w;
        inq = 0;
        while (*r && (inq || !isspace((unsigned char)*r))) {
            if (*r == '"') {
                inq = !inq;
                r++;
            } else {
                *w++ = *r++;
            }
        }
        int at_end = *r == '\0';
        *w = '\0';
        if (at_end)
            break;
        r++;
    }
    return n;
}

/* "key=value" -> key, value; returns 0 when the token has no '='. */
static int split_kv(char *tok, char **key, char **val)
{
    char *eq = strchr(tok, '=');
    if (!eq)
        return 0;
    *eq = '\0';
    *key = tok;
    *val = eq + 1;
    return 1;
}

static int parse_gpu(parse_ctx *ctx, const char *val, int allow_all, int *out)
{
    if (allow_all && strcmp(val, "all") == 0) {
        *out = -1;
        return 0;
    }
    char *end;
    long g = strtol(val, &end, 10);
    if (end == val || *end || g < 0)
        PARSE_FAIL(ctx, "gpu=%s is not a device index%s", val, allow_all ? " or 'all'" : "");
    if (g >= g_ndev)
        PARSE_FAIL(ctx, "gpu=%s refers to no device declared above (%d declared)", val, g_ndev);
    *out = (int)g;
    return 0;
}

static int current_gpu(parse_ctx *ctx, const char *what)
{
    if (g_ndev == 0) {
        snprintf(ctx->msg, sizeof ctx->msg, "'%s' before any 'device' line", what);
        return -2;
    }
    return g_ndev - 1;
}

static int parse_metrics(parse_ctx *ctx, char *val, unsigned int *mask)
{
    *mask = 0;
    for (char *save = NULL, *name = strtok_r(val, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < sizeof metric_names / sizeof metric_names[0]; i++)
            if (strcmp(name, metric_names[i].name) == 0)
                break;
        if (i == sizeof metric_names / sizeof metric_names[0])
            PARSE_FAIL(ctx, "unknown metric '%s' (e.g. energyCounter, powerInstant, powerSamples, clockEventReasons, "
                       "processUtilization, computeProcesses, clocks, all; see README)", name);
        *mask |= metric_names[i].mask;
    }
    if (!*mask)
        PARSE_FAIL(ctx, "metric= is empty");
    return 0;
}

static int parse_code(parse_ctx *ctx, const char *val, int *out)
{
    for (size_t i = 0; i < sizeof code_names / sizeof code_names[0]; i++) {
        if (strcmp(val, code_names[i].name) == 0) {
            *out = code_names[i].code;
            return 0;
        }
    }
    char *end;
    long c = strtol(val, &end, 0);
    if (end == val || *end || c <= 0 || c > 100000)
        PARSE_FAIL(ctx, "code=%s is neither a positive nvmlReturn_t number nor a name like not_supported", val);
    *out = (int)c;
    return 0;
}

static int parse_device(parse_ctx *ctx, char **toks, int n)
{
    if (g_ndev == MAX_DEVICES)
        PARSE_FAIL(ctx, "too many devices (at most %d)", MAX_DEVICES);
    int idx = g_ndev;
    fake_device *d = &g_devs[idx];
    memset(d, 0, sizeof *d);
    d->index = idx;
    snprintf(d->name, sizeof d->name, "NVIDIA H200 (fake)");
    snprintf(d->uuid, sizeof d->uuid, "GPU-fa4e0000-0000-4000-8000-%012x", (unsigned int)idx);
    d->pci_bus = 0x18 + (unsigned int)idx;
    d->pci_device_id = 0x233510DE;
    d->pci_subsys_id = 0x18F210DE;
    d->arch = 9;
    d->mem_total = 150754820096ull;
    d->power_limit = 700000;
    d->power_min = 200000;
    d->power_max = 700000;
    d->energy_base = 9441685ull + 1000000ull * (unsigned long long)idx;
    d->lost_at = INFINITY;
    for (int i = 1; i < n; i++) {
        char *key, *val;
        double v;
        if (!split_kv(toks[i], &key, &val))
            PARSE_FAIL(ctx, "expected key=value, got '%s'", toks[i]);
        if (strcmp(key, "name") == 0) {
            if (strlen(val) >= 64 || !*val)
                PARSE_FAIL(ctx, "name must be 1..63 characters");
            snprintf(d->name, sizeof d->name, "%s", val);
        } else if (strcmp(key, "uuid") == 0) {
            if (strlen(val) >= 80 || !*val)
                PARSE_FAIL(ctx, "uuid must be 1..79 characters");
            snprintf(d->uuid, sizeof d->uuid, "%s", val);
        } else if (strcmp(key, "pci") == 0) {
            unsigned int dom = 0, bus, dev, fn;
            char extra;
            if (sscanf(val, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &extra) != 4 || bus > 0xff || dev > 0x1f || fn > 7)
                PARSE_FAIL(ctx, "pci=%s is not a bus id like 00000000:19:00.0", val);
            d->pci_domain = dom;
            d->pci_bus = bus;
            d->pci_dev = dev;
            d->pci_fn = fn;
        } else if (strcmp(key, "arch") == 0) {
            size_t a;
            for (a = 0; a < sizeof arch_names / sizeof arch_names[0]; a++)
                if (strcasecmp(val, arch_names[a].name) == 0)
                    break;
            if (a < sizeof arch_names / sizeof arch_names[0]) {
                d->arch = arch_names[a].value;
            } else {
                if (parse_uint(ctx, key, val, 4294967295.0, &v) != 0)
                    PARSE_FAIL(ctx, "arch=%s is neither a number nor kepler..blackwell", val);
                d->arch = (unsigned int)v;
            }
        } else if (strcmp(key, "mem_total") == 0) {
            if (parse_uint(ctx, key, val, 1e18, &v) != 0)
                return -1;
            d->mem_total = (unsigned long long)v;
        } else if (strcmp(key, "power_limit") == 0 || strcmp(key, "power_min") == 0 || strcmp(key, "power_max") == 0) {
            if (parse_uint(ctx, key, val, 4294967295.0, &v) != 0)
                return -1;
            unsigned int *dst = key[6] == 'l' ? &d->power_limit : key[7] == 'i' ? &d->power_min : &d->power_max;
            *dst = (unsigned int)v;
        } else if (strcmp(key, "energy_base") == 0) {
            if (parse_uint(ctx, key, val, 1e18, &v) != 0)
                return -1;
            d->energy_base = (unsigned long long)v;
        } else if (strcmp(key, "pci_device_id") == 0 || strcmp(key, "pci_subsys_id") == 0) {
            if (parse_uint(ctx, key, val, 4294967295.0, &v) != 0)
                return -1;
            if (key[4] == 'd')
                d->pci_device_id = (unsigned int)v;
            else
                d->pci_subsys_id = (unsigned int)v;
        } else {
            PARSE_FAIL(ctx, "unknown device key '%s' (name, uuid, pci, arch, mem_total, power_limit, power_min, "
                       "power_max, energy_base, pci_device_id, pci_subsys_id)", key);
        }
    }
    g_ndev++;
    return 0;
}

static int parse_at(parse_ctx *ctx, char **toks, int n)
{
    if (n < 2 || strchr(toks[1], '='))
        PARSE_FAIL(ctx, "'at' needs a time in seconds first: at <seconds> key=value...");
    double t;
    if (parse_time(ctx, "at", toks[1], &t) != 0)
        return -1;
    int gpu = current_gpu(ctx, "at");
    if (gpu == -2)
        return -1;
    point_t p;
    memset(&p, 0, sizeof p);
    p.t = t;
    for (int i = 2; i < n; i++) {
        char *key, *val;
        if (!split_kv(toks[i], &key, &val))
            PARSE_FAIL(ctx, "expected key=value, got '%s'", toks[i]);
        if (strcmp(key, "gpu") == 0) {
            if (parse_gpu(ctx, val, 0, &gpu) != 0)
                return -1;
            continue;
        }
        int k;
        for (k = 0; k < S_COUNT; k++)
            if (strcmp(key, series_keys[k]) == 0)
                break;
        if (k == S_COUNT)
            PARSE_FAIL(ctx, "unknown key '%s' (gpu, power, instant, util, mem_util, mem_used, sm_clock, mem_clock, "
                       "gfx_clock, temp, reasons, pstate)", key);
        double v;
        if (parse_num(val, &v) != 0 || v < 0)
            PARSE_FAIL(ctx, "%s=%s is not a non-negative number (units W, mW, GiB, MiB... allowed)", key, val);
        p.v[k] = v;
        p.given[k] = 1;
    }
    fake_device *d = &g_devs[gpu];
    if (d->npoints > 0 && t < d->points[d->npoints - 1].t)
        PARSE_FAIL(ctx, "time %g is before the previous point of gpu %d (%g): points must be in time order",
                   t, gpu, d->points[d->npoints - 1].t);
    if (d->npoints == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        point_t *np = realloc(d->points, (size_t)cap * sizeof *np);
        if (!np)
            PARSE_FAIL(ctx, "out of memory");
        d->points = np;
        d->cap = cap;
    }
    d->points[d->npoints++] = p;
    return 0;
}

static int parse_process(parse_ctx *ctx, char **toks, int n)
{
    if (g_nrules == MAX_PROC_RULES)
        PARSE_FAIL(ctx, "too many process lines (at most %d)", MAX_PROC_RULES);
    proc_rule_t *r = &g_rules[g_nrules];
    memset(r, 0, sizeof *r);
    r->gpu = current_gpu(ctx, "process");
    if (r->gpu == -2)
        return -1;
    r->mem = 1073741824ull;
    r->sm = 50;
    r->from = 0;
    r->to = INFINITY;
    for (int i = 1; i < n; i++) {
        char *key, *val;
        double v;
        if (!split_kv(toks[i], &key, &val))
            PARSE_FAIL(ctx, "expected key=value, got '%s'", toks[i]);
        if (strcmp(key, "gpu") == 0) {
            if (parse_gpu(ctx, val, 0, &r->gpu) != 0)
                return -1;
        } else if (strcmp(key, "match") == 0) {
            if (!*val || strlen(val) >= sizeof r->match)
                PARSE_FAIL(ctx, "match= must be 1..255 characters");
            snprintf(r->match, sizeof r->match, "%s", val);
        } else if (strcmp(key, "pid") == 0) {
            if (parse_uint(ctx, key, val, 4194304.0, &v) != 0 || v == 0)
                PARSE_FAIL(ctx, "pid=%s is not a process id", val);
            r->pid = (unsigned int)v;
        } else if (strcmp(key, "mem") == 0) {
            if (parse_uint(ctx, key, val, 1e18, &v) != 0)
                return -1;
            r->mem = (unsigned long long)v;
        } else if (strcmp(key, "sm") == 0 || strcmp(key, "mem_util") == 0 || strcmp(key, "enc") == 0 || strcmp(key, "dec") == 0) {
            if (parse_uint(ctx, key, val, 100, &v) != 0)
                return -1;
            unsigned int *dst = key[0] == 's' ? &r->sm : key[0] == 'm' ? &r->mem_util : key[0] == 'e' ? &r->enc : &r->dec;
            *dst = (unsigned int)v;
        } else if (strcmp(key, "from") == 0) {
            if (parse_time(ctx, key, val, &r->from) != 0)
                return -1;
        } else if (strcmp(key, "to") == 0) {
            if (parse_time(ctx, key, val, &r->to) != 0)
                return -1;
        } else {
            PARSE_FAIL(ctx, "unknown process key '%s' (gpu, match, pid, mem, sm, mem_util, enc, dec, from, to)", key);
        }
    }
    if (!r->pid == !r->match[0])
        PARSE_FAIL(ctx, "a process line needs exactly one of match=\"substring\" or pid=N");
    g_nrules++;
    return 0;
}

static int parse_fault(parse_ctx *ctx, char **toks, int n)
{
    if (n < 2 || strchr(toks[1], '='))
        PARSE_FAIL(ctx, "'fault' needs a kind first: init_fail, not_supported, error, lost or slow_energy");
    const char *kind = toks[1];
    int gpu = g_ndev > 0 ? g_ndev - 1 : -3;
    unsigned int metrics = 0;
    int code = 0, have_at = 0;
    double from = 0, to = INFINITY, at = 0, ms = -1;
    for (int i = 2; i < n; i++) {
        char *key, *val;
        double v;
        if (!split_kv(toks[i], &key, &val))
            PARSE_FAIL(ctx, "expected key=value, got '%s'", toks[i]);
        if (strcmp(key, "gpu") == 0) {
            if (parse_gpu(ctx, val, 1, &gpu) != 0)
                return -1;
        } else if (strcmp(key, "metric") == 0) {
            if (parse_metrics(ctx, val, &metrics) != 0)
                return -1;
        } else if (strcmp(key, "code") == 0) {
            if (parse_code(ctx, val, &code) != 0)
                return -1;
        } else if (strcmp(key, "from") == 0) {
            if (parse_time(ctx, key, val, &from) != 0)
                return -1;
        } else if (strcmp(key, "to") == 0) {
            if (parse_time(ctx, key, val, &to) != 0)
                return -1;
        } else if (strcmp(key, "at") == 0) {
            if (parse_time(ctx, key, val, &at) != 0)
                return -1;
            have_at = 1;
        } else if (strcmp(key, "ms") == 0) {
            if (parse_uint(ctx, key, val, 60000, &v) != 0)
                return -1;
            ms = v;
        } else {
            PARSE_FAIL(ctx, "unknown fault key '%s' (gpu, metric, code, from, to, at, ms)", key);
        }
    }
    if (strcmp(kind, "init_fail") == 0) {
        g_init_fail = code ? code : NVML_ERROR_DRIVER_NOT_LOADED;
        return 0;
    }
    if (gpu == -3)
        PARSE_FAIL(ctx, "fault %s before any 'device' line", kind);
    if (strcmp(kind, "not_supported") == 0 || strcmp(kind, "error") == 0) {
        if (!metrics)
            PARSE_FAIL(ctx, "fault %s needs metric=NAME[,NAME...]", kind);
        if (kind[0] == 'n') {
            code = NVML_ERROR_NOT_SUPPORTED;
        } else if (!code) {
            PARSE_FAIL(ctx, "fault error needs code=NAME|NUMBER");
        }
        if (g_nfaults == MAX_FAULTS)
            PARSE_FAIL(ctx, "too many faults (at most %d)", MAX_FAULTS);
        g_faults[g_nfaults++] = (fault_t){gpu, metrics, code, from, to};
        return 0;
    }
    if (strcmp(kind, "lost") == 0 || strcmp(kind, "slow_energy") == 0) {
        int lo = gpu < 0 ? 0 : gpu, hi = gpu < 0 ? g_ndev - 1 : gpu;
        if (kind[0] == 'l' && !have_at)
            PARSE_FAIL(ctx, "fault lost needs at=SECONDS");
        if (kind[0] == 's' && ms < 0)
            PARSE_FAIL(ctx, "fault slow_energy needs ms=MILLISECONDS");
        for (int g = lo; g <= hi; g++) {
            if (kind[0] == 'l')
                g_devs[g].lost_at = at;
            else
                g_devs[g].slow_energy_ms = (unsigned int)ms;
        }
        return 0;
    }
    PARSE_FAIL(ctx, "unknown fault kind '%s' (init_fail, not_supported, error, lost, slow_energy)", kind);
}

static int parse_line(parse_ctx *ctx, char *line)
{
    char *toks[64];
    int n = tokenize(ctx, line, toks, 64);
    if (n <= 0)
        return n;
    const char *kw = toks[0];
    if (strcmp(kw, "device") == 0)
        return parse_device(ctx, toks, n);
    if (strcmp(kw, "at") == 0)
        return parse_at(ctx, toks, n);
    if (strcmp(kw, "process") == 0)
        return parse_process(ctx, toks, n);
    if (strcmp(kw, "fault") == 0)
        return parse_fault(ctx, toks, n);
    if (strcmp(kw, "interp") == 0) {
        if (n != 2 || (strcmp(toks[1], "step") != 0 && strcmp(toks[1], "linear") != 0))
            PARSE_FAIL(ctx, "expected 'interp step' or 'interp linear'");
        g_linear = toks[1][0] == 'l';
        return 0;
    }
    if (strcmp(kw, "system") == 0) {
        for (int i = 1; i < n; i++) {
            char *key, *val;
            if (!split_kv(toks[i], &key, &val))
                PARSE_FAIL(ctx, "expected key=value, got '%s'", toks[i]);
            if (!*val || strlen(val) >= 64)
                PARSE_FAIL(ctx, "%s= must be 1..63 characters", key);
            if (strcmp(key, "driver") == 0)
                snprintf(g_driver_version, sizeof g_driver_version, "%s", val);
            else if (strcmp(key, "nvml") == 0)
                snprintf(g_nvml_version, sizeof g_nvml_version, "%s", val);
            else
                PARSE_FAIL(ctx, "unknown system key '%s' (driver, nvml)", key);
        }
        return 0;
    }
    PARSE_FAIL(ctx, "unknown line kind '%s' (device, at, process, fault, interp, system)", kw);
}

/* Resolve carried-over and derived values once the whole file is read. */
static void finalize_device(fake_device *d)
{
    if (d->npoints == 0) {
        d->points = calloc(1, sizeof(point_t));
        d->npoints = d->cap = 1;
    }
    for (int i = 0; i < d->npoints; i++) {
        point_t *p = &d->points[i];
        for (int k = 0; k < S_COUNT; k++) {
            if (p->given[k] || k == S_INSTANT || k == S_GFX_CLOCK)
                continue;
            p->v[k] = i > 0 ? d->points[i - 1].v[k] : series_defaults[k];
        }
        if (!p->given[S_INSTANT])
            p->v[S_INSTANT] = p->v[S_POWER];
        if (!p->given[S_GFX_CLOCK])
            p->v[S_GFX_CLOCK] = p->v[S_SM_CLOCK];
    }
}

static int parse_env_double(const char *name, double dflt, double min, double *out)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        *out = dflt;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (end == s || *end || !isfinite(v) || v < min) {
        fprintf(stderr, "fake-nvml: %s=%s is not a number%s\n", name, s, min == 0 ? " >= 0" : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* Load the scenario and the time settings from the environment (lock held). */
static int load_all(void)
{
    free_scenario();
    snprintf(g_driver_version, sizeof g_driver_version, "560.35.03");
    snprintf(g_nvml_version, sizeof g_nvml_version, "12.560.35.03");
    if (parse_env_double("FAKE_NVML_SPEED", 1.0, 0.0, &g_speed) != 0 ||
        parse_env_double("FAKE_NVML_TIME_OFFSET_S", 0.0, -INFINITY, &g_offset) != 0 ||
        parse_env_double("FAKE_NVML_EPOCH_S", 0.0, 0.0, &g_epoch) != 0)
        return -1;

    const char *path = getenv("FAKE_NVML_SCENARIO");
    char *text = NULL;
    if (path && *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "fake-nvml: cannot open scenario %s: %s\n", path, strerror(errno));
            return -1;
        }
        size_t cap = 4096, len = 0;
        text = malloc(cap);
        for (;;) {
            if (!text) {
                fclose(f);
                fprintf(stderr, "fake-nvml: out of memory reading %s\n", path);
                return -1;
            }
            len += fread(text + len, 1, cap - len - 1, f);
            if (len < cap - 1)
                break;
            cap *= 2;
            char *nt = realloc(text, cap);
            if (!nt)
                free(text);
            text = nt;
        }
        fclose(f);
        text[len] = '\0';
    } else {
        path = "<built-in default scenario>";
        text = strdup(builtin_scenario);
        if (!text)
            return -1;
    }

    parse_ctx ctx = {path, 0, ""};
    int rc = 0;
    /* Split by hand: strtok would merge empty lines and shift the line numbers. */
    for (char *line = text; line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        ctx.line++;
        size_t l = strlen(line);
        if (l > 0 && line[l - 1] == '\r')
            line[l - 1] = '\0';
        rc = parse_line(&ctx, line) < 0 ? -1 : 0;
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    if (rc == 0 && g_ndev == 0 && !g_init_fail) {
        ctx.line = 0;
        snprintf(ctx.msg, sizeof ctx.msg, "no 'device' line");
        rc = -1;
    }
    if (rc != 0) {
        if (ctx.line > 0)
            fprintf(stderr, "fake-nvml: invalid scenario %s line %d: %s\n", path, ctx.line, ctx.msg);
        else
            fprintf(stderr, "fake-nvml: invalid scenario %s: %s\n", path, ctx.msg);
        free_scenario();
        return -1;
    }
    for (int i = 0; i < g_ndev; i++)
        finalize_device(&g_devs[i]);
    g_loaded = 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Exported API: init, system
 * ---------------------------------------------------------------------------------------------- */

static nvmlReturn_t do_init(void)
{
    lock();
    if (!g_loaded && load_all() != 0)
        return leave(NVML_ERROR_UNKNOWN);
    if (g_init_fail)
        return leave(g_init_fail);
    if (!g_clock_started) {
        struct timespec rt;
        clock_gettime(CLOCK_MONOTONIC, &g_mono0);
        clock_gettime(CLOCK_REALTIME, &rt);
        g_real0_us = (long long)rt.tv_sec * 1000000LL + rt.tv_nsec / 1000;
        /* A shared epoch: every process loading the library sees the same scenario time (a driver
           loaded since then), so counters read by separate processes can be subtracted. */
        if (g_epoch > 0)
            g_offset += ((double)rt.tv_sec + (double)rt.tv_nsec / 1e9 - g_epoch) * g_speed;
        g_clock_started = 1;
    }
    g_refcount++;
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlInit(void) { return do_init(); }
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlInit_v2(void) { return do_init(); }
#endif

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    lock();
    if (g_refcount == 0)
        return leave(NVML_ERROR_UNINITIALIZED);
    g_refcount--;
    return leave(NVML_SUCCESS);
}

EXPORT const char *nvmlErrorString(nvmlReturn_t r)
{
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt request issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "The requested vgpu operation is not available on target device, because ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources for request";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    default: return "Unknown Error";
    }
}

static nvmlReturn_t system_string(char *buf, unsigned int len, const char *which)
{
    lock();
    if (g_refcount == 0)
        return leave(NVML_ERROR_UNINITIALIZED);
    return leave(copy_string(buf, len, which[0] == 'd' ? g_driver_version : g_nvml_version));
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    return system_string(version, length, "driver");
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    return system_string(version, length, "nvml");
}

static nvmlReturn_t get_count(unsigned int *count)
{
    lock();
    if (g_refcount == 0)
        return leave(NVML_ERROR_UNINITIALIZED);
    if (!count)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *count = (unsigned int)g_ndev;
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount) { return get_count(deviceCount); }
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) { return get_count(deviceCount); }
#endif

static nvmlReturn_t get_handle(unsigned int index, nvmlDevice_t *device)
{
    lock();
    if (g_refcount == 0)
        return leave(NVML_ERROR_UNINITIALIZED);
    if (!device || index >= (unsigned int)g_ndev)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    double now = scen_now();
    if (now >= g_devs[index].lost_at)
        return leave(NVML_ERROR_GPU_IS_LOST);
    int code = fault_code(&g_devs[index], M_HANDLE, now);
    if (code)
        return leave(code);
    *device = &g_devs[index];
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return get_handle(index, device);
}
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    return get_handle(index, device);
}
#endif

/* ------------------------------------------------------------------------------------------------
 * Exported API: per-device identity and static figures
 * ---------------------------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_NAME, &d, &t);
    if (r)
        return r;
    return leave(copy_string(name, length, d->name));
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_UUID, &d, &t);
    if (r)
        return r;
    return leave(copy_string(uuid, length, d->uuid));
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_PCI, &d, &t);
    if (r)
        return r;
    if (!pci)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X",
             d->pci_domain & 0xffff, d->pci_bus, d->pci_dev, d->pci_fn);
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", d->pci_domain, d->pci_bus, d->pci_dev, d->pci_fn);
    pci->domain = d->pci_domain;
    pci->bus = d->pci_bus;
    pci->device = d->pci_dev;
    pci->pciDeviceId = d->pci_device_id;
    pci->pciSubSystemId = d->pci_subsys_id;
    return leave(NVML_SUCCESS);
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_ARCH, &d, &t);
    if (r)
        return r;
    if (!arch)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *arch = d->arch;
    return leave(NVML_SUCCESS);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_POWER_LIMIT, &d, &t);
    if (r)
        return r;
    if (!limit)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *limit = d->power_limit;
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned int *minLimit,
                                                                 unsigned int *maxLimit)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_POWER_CONSTRAINTS, &d, &t);
    if (r)
        return r;
    if (!minLimit || !maxLimit)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *minLimit = d->power_min;
    *maxLimit = d->power_max;
    return leave(NVML_SUCCESS);
}

/* ------------------------------------------------------------------------------------------------
 * Exported API: telemetry
 * ---------------------------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_POWER, &d, &t);
    if (r)
        return r;
    if (!power)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *power = u32_of(series_at(d, S_POWER, t));
    return leave(NVML_SUCCESS);
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, -1, &d, &t);
    if (r)
        return r;
    if (valuesCount <= 0 || !values)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    long long ts = wall_us_at(t);
    for (int i = 0; i < valuesCount; i++) {
        nvmlFieldValue_t *fv = &values[i];
        fv->timestamp = ts;
        fv->latencyUsec = 0;
        int metric, series;
        if (fv->fieldId == NVML_FI_DEV_POWER_INSTANT) {
            metric = M_INSTANT;
            series = S_INSTANT;
        } else if (fv->fieldId == NVML_FI_DEV_POWER_AVERAGE) {
            metric = M_AVG_FIELD;
            series = S_POWER;
        } else {
            fv->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            continue;
        }
        int code = fault_code(d, metric, t);
        if (code) {
            fv->nvmlReturn = code;
            continue;
        }
        fv->nvmlReturn = NVML_SUCCESS;
        fv->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
        fv->value.ullVal = 0;
        fv->value.uiVal = u32_of(series_at(d, series, t));
    }
    return leave(NVML_SUCCESS);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_ENERGY, &d, &t);
    if (r)
        return r;
    if (!energy)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    /* The counter moves in 100 ms steps of scenario time. */
    double q = floor(t * ENERGY_UPDATES_PER_S + 1e-9);
    double tq = q > 0 ? q / ENERGY_UPDATES_PER_S : 0;
    unsigned long long value = d->energy_base + u64_of(power_integral(d, tq));
    unsigned int slow_ms = d->slow_energy_ms;
    unlock();
    if (slow_ms) {
        struct timespec ts = {slow_ms / 1000, (long)(slow_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    *energy = value;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t device, int type, unsigned long long lastSeenTimeStamp,
                                         int *sampleValType, unsigned int *sampleCount, nvmlSample_t *samples)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, -1, &d, &t);
    if (r)
        return r;
    /* Type 0: the power ring (instant series, 20 ms); type 1: the utilization ring (util series,
       1/6 s); 2..6 (memory, encoder, decoder, clocks) are not served. */
    int metric, series, entries;
    double period;
    if (type == NVML_TOTAL_POWER_SAMPLES) {
        metric = M_SAMPLES; series = S_INSTANT; entries = RING_ENTRIES; period = RING_PERIOD_S;
    } else if (type == NVML_GPU_UTILIZATION_SAMPLES) {
        metric = M_UTIL_SAMPLES; series = S_UTIL; entries = UTIL_RING_ENTRIES; period = UTIL_RING_PERIOD_S;
    } else {
        return leave(type > 0 && type <= 6 ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT);
    }
    int code = fault_code(d, metric, t);
    if (code)
        return leave(code);
    if (!sampleCount)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (!samples) {
        *sampleCount = (unsigned int)entries;
        return leave(NVML_SUCCESS);
    }
    if (!sampleValType)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    /* Ring entry k was taken at scenario time k * period; the ring holds the last `entries`. */
    long long kmax = (long long)floor(t / period + 1e-9);
    unsigned int cap = *sampleCount, n = 0;
    for (long long k = kmax - entries + 1; k <= kmax && n < cap; k++) {
        double ts = (double)k * period;
        long long wall = wall_us_at(ts);
        if (wall <= 0 || (unsigned long long)wall <= lastSeenTimeStamp)
            continue;
        samples[n].timeStamp = (unsigned long long)wall;
        samples[n].sampleValue.ullVal = 0;
        samples[n].sampleValue.uiVal = u32_of(series_at(d, series, ts));
        n++;
    }
    if (n == 0) {
        *sampleCount = 0;
        return leave(NVML_ERROR_NOT_FOUND);
    }
    *sampleCount = n;
    *sampleValType = NVML_VALUE_TYPE_UNSIGNED_INT;
    return leave(NVML_SUCCESS);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_UTIL, &d, &t);
    if (r)
        return r;
    if (!utilization)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    utilization->gpu = u32_of(series_at(d, S_UTIL, t));
    utilization->memory = u32_of(series_at(d, S_MEM_UTIL, t));
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_MEMORY, &d, &t);
    if (r)
        return r;
    if (!memory)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long used = u64_of(series_at(d, S_MEM_USED, t));
    if (used > d->mem_total)
        used = d->mem_total;
    memory->total = d->mem_total;
    memory->used = used;
    memory->free = d->mem_total - used;
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, -1, &d, &t);
    if (r)
        return r;
    int metric, series;
    switch (type) {
    case 0: metric = M_GFX_CLOCK; series = S_GFX_CLOCK; break;
    case 1: metric = M_SM_CLOCK; series = S_SM_CLOCK; break;
    case 2: metric = M_MEM_CLOCK; series = S_MEM_CLOCK; break;
    case 3: return leave(NVML_ERROR_NOT_SUPPORTED);
    default: return leave(NVML_ERROR_INVALID_ARGUMENT);
    }
    int code = fault_code(d, metric, t);
    if (code)
        return leave(code);
    if (!clock)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *clock = u32_of(series_at(d, series, t));
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensorType, unsigned int *temp)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_TEMP, &d, &t);
    if (r)
        return r;
    if (sensorType != 0 || !temp)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *temp = u32_of(series_at(d, S_TEMP, t));
    return leave(NVML_SUCCESS);
}

static nvmlReturn_t clock_reasons(nvmlDevice_t device, unsigned long long *reasons)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_CLOCK_REASONS, &d, &t);
    if (r)
        return r;
    if (!reasons)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *reasons = u64_of(series_at(d, S_REASONS, t));
    return leave(NVML_SUCCESS);
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons)
{
    return clock_reasons(device, reasons);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons)
{
    return clock_reasons(device, reasons);
}

EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, int *pState)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_PSTATE, &d, &t);
    if (r)
        return r;
    if (!pState)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *pState = (int)u32_of(series_at(d, S_PSTATE, t));
    return leave(NVML_SUCCESS);
}

/* version 1: nvmlProcessInfo_v1_t (16 bytes); 2 and 3: nvmlProcessInfo_t (24 bytes). */
static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned int *infoCount, void *infos, int version)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_PROCESSES, &d, &t);
    if (r)
        return r;
    if (!infoCount)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    proc_hit_t hits[MAX_PROC_HITS];
    int n = collect_procs(d, t, hits);
    if (*infoCount < (unsigned int)n) {
        *infoCount = (unsigned int)n;
        return leave(NVML_ERROR_INSUFFICIENT_SIZE);
    }
    if (n > 0 && !infos)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    for (int i = 0; i < n; i++) {
        if (version == 1) {
            nvmlProcessInfo_v1_t *p = (nvmlProcessInfo_v1_t *)infos + i;
            p->pid = hits[i].pid;
            p->usedGpuMemory = hits[i].rule->mem;
        } else {
            nvmlProcessInfo_t *p = (nvmlProcessInfo_t *)infos + i;
            p->pid = hits[i].pid;
            p->usedGpuMemory = hits[i].rule->mem;
            p->gpuInstanceId = 0xFFFFFFFFu;
            p->computeInstanceId = 0xFFFFFFFFu;
        }
    }
    *infoCount = (unsigned int)n;
    return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                         nvmlProcessInfo_v1_t *infos)
{
    return running_processes(device, infoCount, infos, 1);
}
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                            nvmlProcessInfo_t *infos)
{
    return running_processes(device, infoCount, infos, 2);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                            nvmlProcessInfo_t *infos)
{
    return running_processes(device, infoCount, infos, 3);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
                                                    unsigned int *processSamplesCount,
                                                    unsigned long long lastSeenTimeStamp)
{
    fake_device *d;
    double t;
    nvmlReturn_t r = enter(device, M_PROCESS_UTIL, &d, &t);
    if (r)
        return r;
    if (!processSamplesCount)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    proc_hit_t hits[MAX_PROC_HITS];
    int n = collect_procs(d, t, hits);
    long long ts = wall_us_at(t);
    if (n == 0 || ts <= 0 || (unsigned long long)ts <= lastSeenTimeStamp) {
        *processSamplesCount = 0;
        return leave(NVML_ERROR_NOT_FOUND);
    }
    if (!utilization || *processSamplesCount < (unsigned int)n) {
        *processSamplesCount = (unsigned int)n;
        return leave(NVML_ERROR_INSUFFICIENT_SIZE);
    }
    for (int i = 0; i < n; i++) {
        utilization[i].pid = hits[i].pid;
        utilization[i].timeStamp = (unsigned long long)ts;
        utilization[i].smUtil = hits[i].rule->sm;
        utilization[i].memUtil = hits[i].rule->mem_util;
        utilization[i].encUtil = hits[i].rule->enc;
        utilization[i].decUtil = hits[i].rule->dec;
    }
    *processSamplesCount = (unsigned int)n;
    return leave(NVML_SUCCESS);
}

/* ------------------------------------------------------------------------------------------------
 * Test-only hooks (not part of NVML)
 * ---------------------------------------------------------------------------------------------- */

/* Forget the scenario, the init count and the clock: the next nvmlInit re-reads the environment
   (FAKE_NVML_SCENARIO, FAKE_NVML_SPEED, FAKE_NVML_TIME_OFFSET_S) and restarts scenario time. */
EXPORT void fakeNvmlReset(void)
{
    lock();
    free_scenario();
    g_refcount = 0;
    g_clock_started = 0;
    g_speed = 1.0;
    g_offset = 0.0;
    unlock();
}

/* Current scenario time in seconds (FAKE_NVML_TIME_OFFSET_S before the first successful init). */
EXPORT double fakeNvmlNow(void)
{
    lock();
    double t = scen_now();
    unlock();
    return t;
}
