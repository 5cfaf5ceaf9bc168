/*
 * krb5bench.c - bounded MIT krb5 (libkrb5) throughput loops.
 *
 * Build: gcc -O2 -o krb5bench krb5bench.c $(krb5-config --cflags --libs krb5)
 *
 * Modes (every loop stops at N iterations OR after SECS seconds, whichever first):
 *   krb5bench as_pw  CLIENT PASSWORD            N SECS   AS via krb5_get_init_creds_password
 *   krb5bench as_kt  CLIENT CLIENT_KEYTAB       N SECS   AS via krb5_get_init_creds_keytab
 *   krb5bench tgs    CLIENT CLIENT_KEYTAB SVC   N SECS   TGS via krb5_get_credentials (NO_STORE)
 *   krb5bench aprd   CLIENT CLIENT_KEYTAB SVC SVC_KEYTAB N SECS
 *                    pre-builds up to N AP-REQs (krb5_mk_req_extended, timed),
 *                    then times krb5_rd_req on each (server side, keytab).
 *                    KRB5RCACHETYPE=none in the environment disables the replay cache.
 *                    SVC_KEYTAB may be FILE:... or the word "memory" (copies the
 *                    service keytab named by $KRB5BENCH_SVC_KEYTAB into MEMORY:).
 *
 * Copied from ../shared/anchors/krb5bench.c (the MIT figures of RESULTS.md); the only change
 * is that the MEMORY keytab's source comes from $KRB5BENCH_SVC_KEYTAB.
 * Output: one line "mode=... ops=... secs=... ops_per_s=... p50_us=... p99_us=... errors=..."
 */
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *mode, long ops, double secs, double *lat, long errors)
{
    double p50 = 0, p99 = 0;
    if (ops > 0) {
        qsort(lat, ops, sizeof(double), cmpd);
        p50 = lat[ops / 2] * 1e6;
        p99 = lat[(long)(ops * 0.99)] * 1e6;
    }
    printf("mode=%s ops=%ld secs=%.3f ops_per_s=%.1f p50_us=%.1f p99_us=%.1f errors=%ld\n",
           mode, ops, secs, ops / secs, p50, p99, errors);
    fflush(stdout);
}

#define CHK(expr) do { krb5_error_code _r = (expr); if (_r) { \
    fprintf(stderr, "%s failed: %s\n", #expr, krb5_get_error_message(ctx, _r)); exit(2);} } while (0)

static krb5_context ctx;

/* Get a TGT for client into a fresh MEMORY ccache using its keytab. */
static krb5_ccache get_tgt(krb5_principal client, const char *ktname)
{
    krb5_keytab kt;
    krb5_creds creds;
    krb5_ccache cc;
    CHK(krb5_kt_resolve(ctx, ktname, &kt));
    memset(&creds, 0, sizeof(creds));
    CHK(krb5_get_init_creds_keytab(ctx, &creds, client, kt, 0, NULL, NULL));
    CHK(krb5_cc_new_unique(ctx, "MEMORY", NULL, &cc));
    CHK(krb5_cc_initialize(ctx, cc, client));
    CHK(krb5_cc_store_cred(ctx, cc, &creds));
    krb5_free_cred_contents(ctx, &creds);
    krb5_kt_close(ctx, kt);
    return cc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: see header\n");
        return 1;
    }
    const char *mode = argv[1];
    CHK(krb5_init_context(&ctx));
    krb5_principal client;

    if (!strcmp(mode, "as_pw") || !strcmp(mode, "as_kt")) {
        if (argc != 6) { fprintf(stderr, "bad args\n"); return 1; }
        long n = atol(argv[4]);
        double lim = atof(argv[5]);
        double *lat = calloc(n, sizeof(double));
        krb5_keytab kt = NULL;
        CHK(krb5_parse_name(ctx, argv[2], &client));
        if (!strcmp(mode, "as_kt")) CHK(krb5_kt_resolve(ctx, argv[3], &kt));
        long ops = 0, errs = 0;
        double t0 = now();
        while (ops < n && now() - t0 < lim) {
            krb5_creds creds;
            memset(&creds, 0, sizeof(creds));
            double s = now();
            krb5_error_code r;
            if (kt)
                r = krb5_get_init_creds_keytab(ctx, &creds, client, kt, 0, NULL, NULL);
            else
                r = krb5_get_init_creds_password(ctx, &creds, client, argv[3], NULL, NULL, 0, NULL, NULL);
            lat[ops] = now() - s;
            if (r) {
                if (errs < 3) fprintf(stderr, "err: %s\n", krb5_get_error_message(ctx, r));
                errs++;
            } else {
                krb5_free_cred_contents(ctx, &creds);
            }
            ops++;
        }
        report(mode, ops, now() - t0, lat, errs);
        return 0;
    }

    if (!strcmp(mode, "tgs")) {
        if (argc != 7) { fprintf(stderr, "bad args\n"); return 1; }
        long n = atol(argv[5]);
        double lim = atof(argv[6]);
        double *lat = calloc(n, sizeof(double));
        krb5_principal svc;
        CHK(krb5_parse_name(ctx, argv[2], &client));
        CHK(krb5_parse_name(ctx, argv[4], &svc));
        krb5_ccache cc = get_tgt(client, argv[3]);
        long ops = 0, errs = 0;
        double t0 = now();
        while (ops < n && now() - t0 < lim) {
            krb5_creds in, *out = NULL;
            memset(&in, 0, sizeof(in));
            in.client = client;
            in.server = svc;
            double s = now();
            krb5_error_code r = krb5_get_credentials(ctx, KRB5_GC_NO_STORE, cc, &in, &out);
            lat[ops] = now() - s;
            if (r) {
                if (errs < 3) fprintf(stderr, "err: %s\n", krb5_get_error_message(ctx, r));
                errs++;
            } else {
                krb5_free_creds(ctx, out);
            }
            ops++;
        }
        report(mode, ops, now() - t0, lat, errs);
        return 0;
    }

    if (!strcmp(mode, "aprd")) {
        if (argc != 8) { fprintf(stderr, "bad args\n"); return 1; }
        long n = atol(argv[6]);
        double lim = atof(argv[7]);
        double *lat = calloc(n, sizeof(double));
        krb5_data *reqs = calloc(n, sizeof(krb5_data));
        krb5_principal svc;
        CHK(krb5_parse_name(ctx, argv[2], &client));
        CHK(krb5_parse_name(ctx, argv[4], &svc));
        krb5_ccache cc = get_tgt(client, argv[3]);
        krb5_creds in, *svc_creds = NULL;
        memset(&in, 0, sizeof(in));
        in.client = client;
        in.server = svc;
        CHK(krb5_get_credentials(ctx, 0, cc, &in, &svc_creds));

        /* Client side: build AP-REQs (fresh authenticator each). */
        long built = 0;
        double t0 = now();
        while (built < n && now() - t0 < lim) {
            krb5_auth_context ac = NULL;
            double s = now();
            CHK(krb5_mk_req_extended(ctx, &ac, 0, NULL, svc_creds, &reqs[built]));
            lat[built] = now() - s;
            krb5_auth_con_free(ctx, ac);
            built++;
        }
        report("mk_req", built, now() - t0, lat, 0);

        /* Server side keytab. */
        krb5_keytab skt;
        if (!strcmp(argv[5], "memory")) {
            krb5_keytab src;
            krb5_kt_cursor cur;
            krb5_keytab_entry ent;
            const char *srcname = getenv("KRB5BENCH_SVC_KEYTAB");
            CHK(krb5_kt_resolve(ctx, srcname ? srcname : "FILE:/tmp/perf-anchors/krb/host.keytab", &src));
            CHK(krb5_kt_resolve(ctx, "MEMORY:benchsvc", &skt));
            CHK(krb5_kt_start_seq_get(ctx, src, &cur));
            while (krb5_kt_next_entry(ctx, src, &ent, &cur) == 0) {
                CHK(krb5_kt_add_entry(ctx, skt, &ent));
                krb5_free_keytab_entry_contents(ctx, &ent);
            }
            krb5_kt_end_seq_get(ctx, src, &cur);
        } else {
            CHK(krb5_kt_resolve(ctx, argv[5], &skt));
        }
        long ops = 0, errs = 0;
        t0 = now();
        while (ops < built && now() - t0 < lim) {
            krb5_auth_context ac = NULL;
            krb5_ticket *tkt = NULL;
            krb5_flags apopt = 0;
            double s = now();
            krb5_error_code r = krb5_rd_req(ctx, &ac, &reqs[ops], svc, skt, &apopt, &tkt);
            lat[ops] = now() - s;
            if (r) {
                if (errs < 3) fprintf(stderr, "rd_req err: %s\n", krb5_get_error_message(ctx, r));
                errs++;
            } else {
                krb5_free_ticket(ctx, tkt);
            }
            krb5_auth_con_free(ctx, ac);
            ops++;
        }
        const char *rc = getenv("KRB5RCACHETYPE");
        char m[64];
        snprintf(m, sizeof(m), "rd_req[rcache=%s,kt=%s]", rc ? rc : "default",
                 strcmp(argv[5], "memory") ? "file" : "memory");
        report(m, ops, now() - t0, lat, errs);

        /* Replay check: re-submit the first AP-REQ once (should fail with rcache on). */
        {
            krb5_auth_context ac = NULL;
            krb5_ticket *tkt = NULL;
            krb5_error_code r = krb5_rd_req(ctx, &ac, &reqs[0], svc, skt, NULL, &tkt);
            printf("replay_of_first_apreq: %s\n", r ? krb5_get_error_message(ctx, r) : "ACCEPTED");
            if (!r) krb5_free_ticket(ctx, tkt);
            krb5_auth_con_free(ctx, ac);
        }
        return 0;
    }
    fprintf(stderr, "unknown mode\n");
    return 1;
}
