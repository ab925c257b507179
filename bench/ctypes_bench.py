"""Python ctypes baseline for bench/main.ts: the same echo and event loops on the same library.

usage: ctypes_bench.py LIB echo SECONDS | LIB events COUNT   (prints one JSON object)
"""
import ctypes as C
import json
import sys
import threading
import time


class CallbackInfo(C.Structure):
    _fields_ = [("location", C.c_int), ("callback", C.c_void_p), ("synchronous", C.c_char),
                ("numParms", C.c_uint8), ("parmSizes", C.c_uint32 * 4), ("parmTypes", C.c_int * 4),
                ("callbackId", C.c_uint64)]


class ApiSignature(C.Structure):
    _fields_ = [("version", C.c_uint32), ("name", C.c_char * 32), ("vendor", C.c_char * 32),
                ("numCallbacks", C.c_int), ("callbacks", C.POINTER(CallbackInfo))]


class EchoMsg(C.Structure):
    _fields_ = [("seq", C.c_uint64), ("payload", C.c_uint8 * 56)]


CB = C.CFUNCTYPE(None, C.c_uint64, C.c_uint64, C.c_void_p)


def main():
    lib = C.CDLL(sys.argv[1])
    mode, arg = sys.argv[2], sys.argv[3]
    received = [0]
    cond = threading.Condition()

    def on_link(cookie, instance, p):
        with cond:
            received[0] += 1
            cond.notify()

    link_cb = CB(on_link)
    log_cb = CB(lambda c, i, p: None)
    cbs = (CallbackInfo * 4)()
    cbs[0] = CallbackInfo(1, None, b"\x01", 1, (64, 0, 0, 0), (2, 0, 0, 0), 21)
    cbs[1] = CallbackInfo(1, None, b"\x01", 1, (4, 0, 0, 0), (0, 0, 0, 0), 22)
    cbs[2] = CallbackInfo(2, C.cast(link_cb, C.c_void_p), b"\x00", 1, (8, 0, 0, 0), (0, 0, 0, 0), 32)
    cbs[3] = CallbackInfo(2, C.cast(log_cb, C.c_void_p), b"\x00", 1, (64, 0, 0, 0), (0, 0, 0, 0), 33)
    sig = ApiSignature(0x01000000, b"acmeNicMgmt", b"acme", 4, cbs)
    handle = C.c_void_p()
    rc = lib.vmk_MgmtUserInit(C.byref(sig), C.c_uint64(0), C.byref(handle))
    if rc != 0:
        raise SystemExit(f"init failed: {rc}")
    invoke = lib.vmk_MgmtUserCallbackInvokeInt
    invoke.argtypes = [C.c_void_p, C.c_uint64, C.c_uint64, C.c_uint32, C.c_void_p]
    if mode == "echo":
        msg = EchoMsg()
        ref = C.byref(msg)
        start = time.perf_counter()
        end = start + float(arg)
        calls = 0
        while time.perf_counter() < end:
            for _ in range(100):
                if invoke(handle, 1, 21, 1, ref) != 0:
                    raise SystemExit("echo failed")
                calls += 1
        print(json.dumps({"calls": calls, "seconds": time.perf_counter() - start}))
    else:
        count = int(arg)
        lib.vmk_MgmtUserBegin(handle)
        start = time.perf_counter()
        sent = 0
        while sent < count:
            n = C.c_uint32(min(500, count - sent))
            invoke(handle, 1, 22, 1, C.byref(n))
            sent += n.value
            with cond:
                while received[0] < sent:
                    cond.wait()
        print(json.dumps({"events": received[0], "seconds": time.perf_counter() - start}))
        lib.vmk_MgmtUserEnd(handle)
    lib.vmk_MgmtUserDestroy(handle)


main()
