/*
 * spve_glue.h: the C runtime of the XS glue of every Swift storage plugin built
 * with the SDK.
 *
 * SDK/gen-glue.pl generates a plugin's XS file from its methods.txt: one binding
 * table (spve_binding) and one XSUB per method. Every XSUB hands its
 * arguments to spve_glue_call (spve_glue.c), which makes them safe to read (plain
 * copies of magical values), calls the Swift library with the accessors and builders
 * of spve_sdk.h, puts its result on the stack and emits what it warned, printed or
 * logged. It never croaks on its
 * own account: it returns the error, and the XSUB, the outermost C frame, throws
 * it. No longjmp ever crosses a Swift frame. The runtime knows no plugin by name:
 * everything plugin-specific is in the spve_plugin its bindings point to.
 *
 * Include after EXTERN.h, perl.h and XSUB.h, with PERL_NO_GET_CONTEXT defined.
 */
#ifndef SPVE_GLUE_H
#define SPVE_GLUE_H

#ifndef PERL_REVISION
#error "include EXTERN.h, perl.h and XSUB.h before spve_glue.h"
#endif

#include "spve_sdk.h"

/* How an XSUB argument is passed (methods.txt, name:kind). */
typedef enum {
    SPVE_ARG_VALUE, /* passed (a plain copy when magical) */
    SPVE_ARG_SKIP,  /* not passed */
    SPVE_ARG_REST,  /* this and all further arguments, each passed */
    SPVE_ARG_FH,    /* a Perl file handle, passed as its file descriptor */
    SPVE_ARG_LOG,   /* not passed: the code reference 'L' sections are sent to */
    SPVE_ARG_PUSH   /* not passed: the array reference 'P' sections are appended to */
} spve_arg_kind;

typedef struct {
    const char *name;
    spve_arg_kind kind;
} spve_arg;

/* The plugin library the bindings belong to. */
typedef struct {
    const char *name;          /* for messages about the glue itself, e.g. "SwiftPlugin" */
    void (*release)(void *);   /* the library's <prefix>free */
} spve_plugin;

/* One bound method: its arguments after the class, in XSUB order. */
typedef struct {
    const spve_plugin *plugin;
    const char *name;
    spve_v1_method function;
    const spve_arg *args;
    size_t count;
} spve_binding;

/* How a method returns its result (methods.txt): the value as one scalar;
 * an array as a list; an array as a list in list context, else its first element. */
typedef enum { SPVE_SHAPE_SCALAR, SPVE_SHAPE_LIST, SPVE_SHAPE_CONTEXT } spve_shape;

/* Calls `binding` with the arguments of the running XSUB (`ax` and `items` as
 * dXSARGS defines them, ST(0) the class) and leaves the result on the Perl stack,
 * placed the way `shape` says (the XSUB then reloads SP with SPAGAIN). Returns
 * NULL, or on failure a mortal error message ending in a newline, which the XSUB
 * croaks with. */
SV *spve_glue_call(pTHX_ const spve_binding *binding, spve_shape shape, I32 ax, I32 items);

#endif /* SPVE_GLUE_H */
