/* A wrong wall clock for one process (LD_PRELOAD), its monotonic clocks left alone.
 *
 * CLOCK_REALTIME (and its coarse variant), gettimeofday() and time() read the real clock plus
 * the offset in seconds written in the file $FAKEWALL_FILE, read again at most every 50 ms, so
 * a test can move the clock under a running process. CLOCK_MONOTONIC and CLOCK_BOOTTIME, and
 * every sleep and timed wait, are the real ones (libfaketime fakes those too, or fails them
 * with EINVAL, which Python's sleeps do not survive). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long long offset_ns;
static struct timespec read_at;

static clock_gettime_fn real(void) {
    if (!real_clock_gettime)
        real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    return real_clock_gettime;
}

static long long current_offset_ns(void) {
    struct timespec now;
    real()(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&lock);
    long long since = (now.tv_sec - read_at.tv_sec) * 1000000000LL + (now.tv_nsec - read_at.tv_nsec);
    if (read_at.tv_sec == 0 || since > 50000000LL) {
        const char *path = getenv("FAKEWALL_FILE");
        FILE *file = path ? fopen(path, "r") : NULL;
        if (file) {
            double seconds;
            if (fscanf(file, "%lf", &seconds) == 1)
                offset_ns = (long long)(seconds * 1e9);
            fclose(file);
        }
        read_at = now;
    }
    long long offset = offset_ns;
    pthread_mutex_unlock(&lock);
    return offset;
}

static void shift(struct timespec *ts) {
    long long ns = ts->tv_sec * 1000000000LL + ts->tv_nsec + current_offset_ns();
    if (ns < 0)
        ns = 0;
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    int result = real()(clock, ts);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        shift(ts);
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    (void)tz;
    if (real()(CLOCK_REALTIME, &ts) != 0)
        return -1;
    shift(&ts);
    if (tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    real()(CLOCK_REALTIME, &ts);
    shift(&ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
