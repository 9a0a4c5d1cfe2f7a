/*
 * spve_glue.c: the C runtime of the XS glue (see spve_glue.h). With the XSUBs a
 * plugin's generated XS file holds, the only code that uses the Perl API.
 *
 * Errors: a function here that fails returns the reason (a static string or a
 * mortal message, ending in a newline); only the XSUB turns it into a Perl
 * exception. Perl code called from here (tied variables, warn handlers, log
 * functions) may still die, which only ever unwinds C and Perl frames: the
 * library's buffers are freed before any of it runs.
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include "spve_glue.h"

#define SPVE_MAX_DEPTH 64

/* ---- the arguments: plain values only ------------------------------------ */

/* Whether `sv` carries magic other than taint (tied values, %ENV, $1, ...): reading
 * it could run Perl code. Taint magic only records that a value is tainted. */
static int spve_has_magic(SV *sv) {
    MAGIC *mg;
    if (!SvMAGICAL(sv)) return 0;
    for (mg = SvMAGIC(sv); mg; mg = mg->mg_moremagic)
        if (mg->mg_type != PERL_MAGIC_taint) return 1;
    return 0;
}

/* Walks an argument as the library will read it. Returns 1 when it is plain (no
 * magic anywhere), 0 when it must be copied first, -1 when it is nested deeper than
 * SPVE_MAX_DEPTH (or cyclic). */
static int spve_plain(pTHX_ SV *sv, int depth) {
    if (depth > SPVE_MAX_DEPTH) return -1;
    if (!sv) return 1;
    if (spve_has_magic(sv)) return 0;
    if (SvROK(sv)) {
        SV *target = SvRV(sv);
        if (spve_has_magic(target)) return 0;
        if (SvTYPE(target) == SVt_PVHV) {
            /* The buckets, not hv_iternext: cheaper, and the caller's each-iterator is
             * left where it was. A restricted hash's deleted keys are placeholders. */
            HV *hash = (HV *)target;
            HE **buckets = HvARRAY(hash);
            STRLEN bucket, last = HvMAX(hash);
            int plain = 1;
            if (!buckets) return 1;
            for (bucket = 0; plain == 1 && bucket <= last; bucket++) {
                HE *entry;
                for (entry = buckets[bucket]; plain == 1 && entry; entry = HeNEXT(entry))
                    if (HeVAL(entry) != &PL_sv_placeholder) plain = spve_plain(aTHX_ HeVAL(entry), depth + 1);
            }
            return plain;
        }
        if (SvTYPE(target) == SVt_PVAV) {
            AV *array = (AV *)target;
            SSize_t last = av_len(array), i;
            int plain = 1;
            for (i = 0; plain == 1 && i <= last; i++) {
                SV **element = av_fetch(array, i, 0);
                plain = spve_plain(aTHX_ element ? *element : NULL, depth + 1);
            }
            return plain;
        }
        if (SvTYPE(target) <= SVt_PVMG) return spve_plain(aTHX_ target, depth + 1);
    }
    return 1;
}

/* A plain copy of `sv` (reference count 1), every magic resolved; NULL when it is
 * nested too deeply. Perl code (FETCH, FIRSTKEY, ...) runs here, in a C frame. */
static SV *spve_copy(pTHX_ SV *sv, int depth) {
    if (depth > SPVE_MAX_DEPTH) return NULL;
    if (!sv) return newSV(0);
    SvGETMAGIC(sv);
    if (SvROK(sv)) {
        SV *target = SvRV(sv);
        if (SvTYPE(target) == SVt_PVHV) {
            HV *hash = (HV *)target, *copy = newHV();
            HE *entry;
            hv_iterinit(hash);
            while ((entry = hv_iternext(hash))) {
                STRLEN key_length;
                const char *key = HePV(entry, key_length);
                SV *member = spve_copy(aTHX_ hv_iterval(hash, entry), depth + 1);
                if (!member) {
                    SvREFCNT_dec((SV *)copy);
                    return NULL;
                }
                (void)hv_store(copy, key, (I32)key_length, member, 0);
            }
            return newRV_noinc((SV *)copy);
        }
        if (SvTYPE(target) == SVt_PVAV) {
            AV *array = (AV *)target, *copy = newAV();
            SSize_t last = av_len(array), i;
            for (i = 0; i <= last; i++) {
                SV **element = av_fetch(array, i, 0);
                SV *member = spve_copy(aTHX_ element ? *element : NULL, depth + 1);
                if (!member) {
                    SvREFCNT_dec((SV *)copy);
                    return NULL;
                }
                av_push(copy, member);
            }
            return newRV_noinc((SV *)copy);
        }
        if (SvTYPE(target) <= SVt_PVMG) {
            SV *copy = spve_copy(aTHX_ target, depth + 1);
            return copy ? newRV_noinc(copy) : NULL;
        }
        return newSV(0); /* code, glob, I/O: nothing the library can use */
    }
    return newSVsv_nomg(sv);
}

/* The argument as the library may read it: `sv` itself when plain, else a mortal
 * plain copy. Returns NULL and sets *failure when it is nested too deeply. */
static SV *spve_argument(pTHX_ SV *sv, int depth, const char **failure) {
    int plain = spve_plain(aTHX_ sv, depth);
    SV *copy;
    if (plain == 1) return sv;
    copy = plain == 0 ? spve_copy(aTHX_ sv, depth) : NULL;
    if (!copy) {
        *failure = "argument nested too deeply\n";
        return NULL;
    }
    return sv_2mortal(copy);
}

/* ---- spve_perl: the library's accessors and builders ---------------------- */

#define SPVE_PERL(perl) PerlInterpreter *my_perl = (PerlInterpreter *)(perl)->interpreter; PERL_UNUSED_VAR(my_perl)

/* A reference to a scalar reads as the scalar (bounded: the arguments were walked). */
static SV *spve_target(SV *sv) {
    int depth;
    for (depth = 0; depth <= SPVE_MAX_DEPTH && SvROK(sv) && SvTYPE(SvRV(sv)) <= SVt_PVMG; depth++) sv = SvRV(sv);
    return sv;
}

static spve_kind spve_perl_kind(const spve_perl *perl, spve_sv *value) {
    SV *sv = (SV *)value;
    SPVE_PERL(perl);
    if (!sv) return SPVE_KIND_UNDEF;
    sv = spve_target(sv);
    if (SvROK(sv)) {
        svtype type = SvTYPE(SvRV(sv));
        return type == SVt_PVHV ? SPVE_KIND_HASH : type == SVt_PVAV ? SPVE_KIND_ARRAY : SPVE_KIND_UNDEF;
    }
    if (!SvOK(sv) || isGV_with_GP(sv)) return SPVE_KIND_UNDEF;
    if (SvPOK(sv)) return SvUTF8(sv) ? SPVE_KIND_TEXT : SPVE_KIND_BYTES;
    if (SvIOK(sv)) return SvIsUV(sv) && SvUVX(sv) > (UV)IV_MAX ? SPVE_KIND_NUMBER : SPVE_KIND_INTEGER;
    if (SvNOK(sv)) return SPVE_KIND_NUMBER;
    (void)SvPV_nomg_nolen(sv); /* anything else reads as its string */
    return SvUTF8(sv) ? SPVE_KIND_TEXT : SPVE_KIND_BYTES;
}

static int64_t spve_perl_integer(const spve_perl *perl, spve_sv *value) {
    SPVE_PERL(perl);
    return value ? (int64_t)SvIV_nomg(spve_target((SV *)value)) : 0;
}

static double spve_perl_number(const spve_perl *perl, spve_sv *value) {
    SV *sv;
    SPVE_PERL(perl);
    if (!value) return 0;
    sv = spve_target((SV *)value);
    return SvIOK(sv) && SvIsUV(sv) ? (double)SvUVX(sv) : (double)SvNV_nomg(sv);
}

static const uint8_t *spve_perl_bytes(const spve_perl *perl, spve_sv *value, size_t *length) {
    STRLEN bytes_length = 0;
    const char *bytes;
    SPVE_PERL(perl);
    if (!value) {
        *length = 0;
        return (const uint8_t *)"";
    }
    bytes = SvPV_nomg(spve_target((SV *)value), bytes_length);
    *length = bytes_length;
    return (const uint8_t *)bytes;
}

static size_t spve_perl_count(const spve_perl *perl, spve_sv *value) {
    SV *sv;
    SPVE_PERL(perl);
    if (!value) return 0;
    sv = spve_target((SV *)value);
    if (!SvROK(sv)) return 0;
    if (SvTYPE(SvRV(sv)) == SVt_PVAV) return (size_t)(av_len((AV *)SvRV(sv)) + 1);
    if (SvTYPE(SvRV(sv)) == SVt_PVHV) return (size_t)HvUSEDKEYS((HV *)SvRV(sv));
    return 0;
}

static spve_sv *spve_perl_element(const spve_perl *perl, spve_sv *array, size_t index) {
    SV *sv, **element;
    SPVE_PERL(perl);
    if (!array) return NULL;
    sv = spve_target((SV *)array);
    if (!SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVAV || index > (size_t)SSize_t_MAX) return NULL;
    element = av_fetch((AV *)SvRV(sv), (SSize_t)index, 0);
    return element ? (spve_sv *)*element : NULL;
}

static void spve_perl_begin(const spve_perl *perl, spve_sv *hash) {
    SV *sv;
    SPVE_PERL(perl);
    if (!hash) return;
    sv = spve_target((SV *)hash);
    if (SvROK(sv) && SvTYPE(SvRV(sv)) == SVt_PVHV) hv_iterinit((HV *)SvRV(sv));
}

static spve_sv *spve_perl_next(const spve_perl *perl, spve_sv *hash, const uint8_t **key, size_t *key_length) {
    SV *sv;
    HE *entry;
    STRLEN length;
    SPVE_PERL(perl);
    if (!hash) return NULL;
    sv = spve_target((SV *)hash);
    if (!SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVHV || !(entry = hv_iternext((HV *)SvRV(sv)))) return NULL;
    *key = (const uint8_t *)HePV(entry, length);
    *key_length = length;
    return (spve_sv *)HeVAL(entry);
}

static spve_sv *spve_perl_fetch(const spve_perl *perl, spve_sv *hash, const uint8_t *key, size_t key_length) {
    SV *sv, **member;
    HV *members;
    SPVE_PERL(perl);
    if (!hash || key_length > (size_t)I32_MAX) return NULL;
    sv = spve_target((SV *)hash);
    if (!SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVHV) return NULL;
    members = (HV *)SvRV(sv);
    /* A restricted hash (Hash::Util) croaks on fetching a key it does not allow. */
    if (SvREADONLY(members) && !hv_exists(members, (const char *)key, (I32)key_length)) return NULL;
    member = hv_fetch(members, (const char *)key, (I32)key_length, 0);
    return member ? (spve_sv *)*member : NULL;
}

static spve_sv *spve_perl_new_undef(const spve_perl *perl) {
    SPVE_PERL(perl);
    return (spve_sv *)sv_newmortal();
}

static spve_sv *spve_perl_new_integer(const spve_perl *perl, int64_t number) {
    SPVE_PERL(perl);
    return (spve_sv *)sv_2mortal(newSViv((IV)number));
}

static spve_sv *spve_perl_new_number(const spve_perl *perl, double number) {
    SPVE_PERL(perl);
    return (spve_sv *)sv_2mortal(newSVnv((NV)number));
}

static spve_sv *spve_perl_new_string(const spve_perl *perl, const uint8_t *bytes, size_t length, int text) {
    SV *string;
    SPVE_PERL(perl);
    string = sv_2mortal(newSVpvn((const char *)bytes, (STRLEN)length));
    if (text) SvUTF8_on(string);
    return (spve_sv *)string;
}

static spve_sv *spve_perl_new_array(const spve_perl *perl, size_t capacity) {
    AV *array;
    SPVE_PERL(perl);
    array = newAV();
    if (capacity > 0 && capacity <= (size_t)SSize_t_MAX) av_extend(array, (SSize_t)capacity - 1);
    return (spve_sv *)sv_2mortal(newRV_noinc((SV *)array));
}

static void spve_perl_push(const spve_perl *perl, spve_sv *array, spve_sv *element) {
    SV *sv = (SV *)array;
    SPVE_PERL(perl);
    if (!sv || !SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVAV) return;
    av_push((AV *)SvRV(sv), element ? SvREFCNT_inc_simple_NN((SV *)element) : newSV(0));
}

static spve_sv *spve_perl_new_hash(const spve_perl *perl) {
    SPVE_PERL(perl);
    return (spve_sv *)sv_2mortal(newRV_noinc((SV *)newHV()));
}

static void spve_perl_store(const spve_perl *perl, spve_sv *hash, const uint8_t *key, size_t key_length, spve_sv *value) {
    SV *sv = (SV *)hash;
    SPVE_PERL(perl);
    if (!sv || !SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVHV || key_length > I32_MAX) return;
    (void)hv_store((HV *)SvRV(sv), (const char *)key, (I32)key_length,
                   value ? SvREFCNT_inc_simple_NN((SV *)value) : newSV(0), 0);
}

/* ---- the call ----------------------------------------------------------- */

/* Emits one section of a call (spve_sdk.h): warnings through warn, output lines
 * to the selected handle, log entries to the log function, values onto the push
 * argument. Perl code may run here, so it happens after the library returned. */
static void spve_emit(pTHX_ char tag, AV *lines, SV *logfunc, SV *push_target) {
    SSize_t i, last = av_len(lines);
    for (i = 0; i <= last; i++) {
        SV **entry = av_fetch(lines, i, 0);
        if (!entry) continue;
        if (tag == 'W') {
            warn_sv(sv_2mortal(newSVpvf("%" SVf "\n", SVfARG(*entry))));
        } else if (tag == 'O') {
            IO *io = GvIO(PL_defoutgv);
            PerlIO *out = io && IoOFP(io) ? IoOFP(io) : PerlIO_stdout();
            STRLEN length;
            const char *text = SvPV(*entry, length);
            PerlIO_write(out, text, length);
            PerlIO_write(out, "\n", 1);
        } else if (tag == 'L') {
            AV *pair;
            SV **level, **message;
            dSP;
            if (!logfunc || !SvROK(logfunc) || SvTYPE(SvRV(logfunc)) != SVt_PVCV) return;
            if (!SvROK(*entry) || SvTYPE(SvRV(*entry)) != SVt_PVAV) continue;
            pair = (AV *)SvRV(*entry);
            level = av_fetch(pair, 0, 0);
            message = av_fetch(pair, 1, 0);
            ENTER;
            SAVETMPS;
            PUSHMARK(SP);
            XPUSHs(level ? *level : &PL_sv_undef);
            XPUSHs(message ? *message : &PL_sv_undef);
            PUTBACK;
            call_sv(logfunc, G_DISCARD);
            FREETMPS;
            LEAVE;
        } else if (tag == 'P') {
            if (!push_target || !SvROK(push_target) || SvTYPE(SvRV(push_target)) != SVt_PVAV) return;
            av_push((AV *)SvRV(push_target), newSVsv(*entry));
        }
    }
}

/* Emits the sections of a call (spve_v1_call.sections: an array reference of tag,
 * array reference pairs). */
static void spve_emit_sections(pTHX_ SV *sections, SV *logfunc, SV *push_target) {
    AV *pairs;
    SSize_t i;
    if (!sections || !SvROK(sections) || SvTYPE(SvRV(sections)) != SVt_PVAV) return;
    pairs = (AV *)SvRV(sections);
    for (i = 0; i + 1 <= av_len(pairs); i += 2) {
        SV **tag = av_fetch(pairs, i, 0);
        SV **lines = av_fetch(pairs, i + 1, 0);
        if (tag && lines && SvROK(*lines) && SvTYPE(SvRV(*lines)) == SVt_PVAV)
            spve_emit(aTHX_ (char)SvIV(*tag), (AV *)SvRV(*lines), logfunc, push_target);
    }
}

/* The file descriptor of a Perl file handle (a glob, a reference to one, or an I/O
 * object), after flushing what Perl buffered for it; -1 for anything else, which the
 * library refuses with its own message. */
static IV spve_file_descriptor(pTHX_ SV *handle) {
    SV *target = SvROK(handle) ? SvRV(handle) : handle;
    IO *io;
    PerlIO *file;
    if (isGV_with_GP(target)) io = GvIO((GV *)target);
    else if (SvTYPE(target) == SVt_PVIO) io = (IO *)target;
    else return -1;
    if (!io) return -1;
    file = IoOFP(io) ? IoOFP(io) : IoIFP(io);
    if (!file) return -1;
    if (IoOFP(io)) PerlIO_flush(file);
    return PerlIO_fileno(file);
}

/* The host's storage API version (PVE::Storage::APIVER), 0 while PVE::Storage has not
 * defined it. Read once per process: it is a constant of the loaded PVE::Storage. */
static IV spve_host_apiver(pTHX) {
    static IV known = 0;
    if (!known) {
        CV *cv = get_cv("PVE::Storage::APIVER", 0);
        SV *value = cv ? cv_const_sv(cv) : NULL;
        if (value && SvIOK(value) && SvIV(value) > 0) known = SvIV(value);
    }
    return known;
}

static const spve_perl spve_perl_table = {
    NULL,
    spve_perl_kind, spve_perl_integer, spve_perl_number, spve_perl_bytes, spve_perl_count,
    spve_perl_element, spve_perl_begin, spve_perl_next, spve_perl_fetch,
    spve_perl_new_undef, spve_perl_new_integer, spve_perl_new_number, spve_perl_new_string,
    spve_perl_new_array, spve_perl_push, spve_perl_new_hash, spve_perl_store,
};

/* The most arguments a method takes on the C stack; more go to a mortal buffer. */
#define SPVE_STACK_ARGUMENTS 16

/* Prepares the XSUB's arguments (ST(0) is the class) for the library into `arguments`
 * (`count` entries), and finds the log and push arguments. Returns NULL, or the
 * reason they cannot be passed. */
static const char *spve_arguments(pTHX_ const spve_binding *binding, I32 ax, I32 items,
                                  spve_sv **arguments, size_t count, SV **logfunc, SV **push_target) {
    const char *failure = NULL;
    size_t i;
    if (!(arguments[0] = (spve_sv *)spve_argument(aTHX_ ST(0), 0, &failure))) return failure;
    for (i = 1; i < count; i++) {
        /* Arguments beyond the binding's belong to its last one, when that is `rest`. */
        const spve_arg *arg = i <= binding->count ? &binding->args[i - 1]
                            : binding->count > 0 && binding->args[binding->count - 1].kind == SPVE_ARG_REST
                            ? &binding->args[binding->count - 1] : NULL;
        SV *value = (I32)i < items ? ST(i) : NULL;
        arguments[i] = NULL;
        if (!arg || !value) continue;
        switch (arg->kind) {
        case SPVE_ARG_SKIP:
            break;
        case SPVE_ARG_LOG:
            *logfunc = value;
            break;
        case SPVE_ARG_PUSH:
            *push_target = value;
            break;
        case SPVE_ARG_FH:
            arguments[i] = (spve_sv *)sv_2mortal(newSViv(spve_file_descriptor(aTHX_ value)));
            break;
        default:
            if (!(arguments[i] = (spve_sv *)spve_argument(aTHX_ value, arg->kind == SPVE_ARG_REST ? 1 : 0, &failure)))
                return failure;
        }
    }
    return NULL;
}

/* Calls one method with the XSUB's arguments. Returns NULL and the result in
 * *result, or an error message (a mortal ending in a newline). */
static SV *spve_call(pTHX_ const spve_binding *binding, I32 ax, I32 items, SV **result) {
    spve_sv *stack_arguments[SPVE_STACK_ARGUMENTS];
    spve_sv **arguments = stack_arguments;
    size_t count = (size_t)items > binding->count + 1 ? (size_t)items : binding->count + 1;
    SV *logfunc = NULL, *push_target = NULL;
    const char *failure;
    spve_perl perl = spve_perl_table;
    spve_v1_call call;
    /* $! is the caller's unless a system call the method made failed. */
    int saved_errno = errno;

    if (count > SPVE_STACK_ARGUMENTS) {
        SV *buffer = sv_2mortal(newSV(count * sizeof(spve_sv *)));
        arguments = (spve_sv **)SvPVX(buffer);
    }
    failure = spve_arguments(aTHX_ binding, ax, items, arguments, count, &logfunc, &push_target);
    if (failure) return sv_2mortal(newSVpvf("%s: %s", binding->plugin->name, failure));

    perl.interpreter = my_perl;
    Zero(&call, 1, spve_v1_call);
    call.perl = &perl;
    call.arguments = arguments;
    call.count = count;
    call.apiver = (int64_t)spve_host_apiver(aTHX);
    /* What the library makes is its own, validated there: it is not tainted by the
     * arguments (under -T, Perl taints every value created in a statement that read
     * a tainted one). */
    TAINT_NOT;
    binding->function(&call);
    TAINT_NOT;
    errno = saved_errno;
    *result = call.result ? (SV *)call.result : &PL_sv_undef;
    if (call.error.code != SPVE_ERROR_NONE) {
        /* A failure may come with what the method warned, printed or pushed before it. */
        SV *message = call.error.message ? sv_2mortal(newSVpv(call.error.message, 0))
                                         : sv_2mortal(newSVpvf("%s: unknown error", binding->plugin->name));
        binding->plugin->release(call.error.message);
        if (SvCUR(message) == 0 || SvPVX(message)[SvCUR(message) - 1] != '\n') sv_catpvs(message, "\n");
        spve_emit_sections(aTHX_ (SV *)call.sections, NULL, push_target);
        /* A failed system call's errno reaches Perl as $! (after any warn handler ran). */
        if (call.error.code > 0) SETERRNO(call.error.code, 0);
        return message;
    }
    spve_emit_sections(aTHX_ (SV *)call.sections, logfunc, push_target);
    errno = saved_errno;
    return NULL;
}

/* A list element as a return value: kept alive by the stack (no copy). */
static SV *spve_element(pTHX_ AV *list, SSize_t index) {
    SV **element = av_fetch(list, index, 0);
    return element ? sv_2mortal(SvREFCNT_inc_simple_NN(*element)) : &PL_sv_undef;
}

/* Pushes a result the way the method's shape says; returns the new stack pointer. */
static SV **spve_push(pTHX_ SV **sp, SV *result, spve_shape shape) {
    AV *list = SvROK(result) && SvTYPE(SvRV(result)) == SVt_PVAV ? (AV *)SvRV(result) : NULL;
    SSize_t i, last;
    if (shape == SPVE_SHAPE_SCALAR || !list) {
        if (shape == SPVE_SHAPE_LIST && !SvOK(result)) return sp;
        XPUSHs(result);
        return sp;
    }
    if (shape == SPVE_SHAPE_CONTEXT && GIMME_V != G_LIST) {
        XPUSHs(spve_element(aTHX_ list, 0));
        return sp;
    }
    last = av_len(list);
    EXTEND(sp, last + 1);
    for (i = 0; i <= last; i++) PUSHs(spve_element(aTHX_ list, i));
    return sp;
}

SV *spve_glue_call(pTHX_ const spve_binding *binding, spve_shape shape, I32 ax, I32 items) {
    SV *result = NULL;
    SV *error = spve_call(aTHX_ binding, ax, items, &result);
    SV **sp;
    if (error) return error;
    /* Perl code may have run (warn handlers, log functions) and moved the stack, so
     * the return position is recomputed from ax. */
    sp = PL_stack_base + ax - 1;
    sp = spve_push(aTHX_ sp, result, shape);
    PUTBACK;
    return NULL;
}
