// A storage that behaves like `inner` except for the methods given (to inject crashes, failures or counters in tests).
import type { Storage } from '../../services/storage/storage.ts';

export function overrideStorage(inner: Storage, overrides: Partial<Pick<Storage, 'createOnly' | 'put' | 'get' | 'copy' | 'delete' | 'list'>>): Storage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const own = overrides[prop as keyof typeof overrides];
      if (own) return own;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
