"""The torch backend: the entry points for tensors (:mod:`.bridge`), the primitives
interface in torch operations (:mod:`.primitives`) and the device solvers (:mod:`.solvers`).

Importing this package imports torch; :mod:`multiproj` imports it only for tensor input."""
