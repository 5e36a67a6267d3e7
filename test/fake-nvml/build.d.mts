/** Absolute paths of the two fake NVML builds. */
export interface FakeNvmlBuild {
  /** libnvidia-ml-fake.so: every entry point. */
  full: string;
  /** libnvidia-ml-fake-legacy.so: without the _v2/_v3 and newer entry points (see README.md). */
  legacy: string;
}

/** Compiles test/fake-nvml/fake_nvml.c into test/fake-nvml/build/ unless the outputs are up to date. */
export function buildFakeNvml(): Promise<FakeNvmlBuild>;
