// The injector's golden files: testdata/ beside this module.
import { goldenFiles } from "@portcullis/common/golden-files";

const golden = goldenFiles(new URL("./testdata/", import.meta.url));
export const TESTDATA = golden.testdata;
export const expectGolden = golden.expectGolden;
