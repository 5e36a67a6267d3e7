"""Independent reference readings for checking Joules: NVML through Python's ctypes (not koffi,
not Joules' code). Prints JSON with every GPU's energy counter (mJ) and the wall-clock time."""
import ctypes
import json
import time

nvml = ctypes.CDLL("libnvidia-ml.so.1")
assert nvml.nvmlInit_v2() == 0
count = ctypes.c_uint()
nvml.nvmlDeviceGetCount_v2(ctypes.byref(count))
out = {"time": time.time(), "gpus": []}
for i in range(count.value):
    h = ctypes.c_void_p()
    nvml.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h))
    e = ctypes.c_ulonglong()
    rc = nvml.nvmlDeviceGetTotalEnergyConsumption(h, ctypes.byref(e))
    out["gpus"].append({"index": i, "energy_mJ": e.value if rc == 0 else None, "rc": rc})
nvml.nvmlShutdown()
print(json.dumps(out))
