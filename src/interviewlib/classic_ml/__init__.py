"""Classic machine learning from scratch (chapter 5): K-means, DBSCAN, SVM, PCA, t-SNE."""

from interviewlib.classic_ml.dbscan import DBSCAN, eps_neighbour_pairs, k_distance
from interviewlib.classic_ml.kernel_pca import KernelPCA
from interviewlib.classic_ml.kmeans import KMeans, kmeans_plusplus, squared_distances
from interviewlib.classic_ml.pca import PCA
from interviewlib.classic_ml.svm import SVC, kernel_matrix, smo_solve
from interviewlib.classic_ml.tsne import (
    TSNE,
    conditional_probabilities,
    joint_probabilities,
    kl_divergence_and_gradient,
)

__all__ = [
    "DBSCAN",
    "PCA",
    "SVC",
    "TSNE",
    "KMeans",
    "KernelPCA",
    "conditional_probabilities",
    "eps_neighbour_pairs",
    "joint_probabilities",
    "k_distance",
    "kernel_matrix",
    "kl_divergence_and_gradient",
    "kmeans_plusplus",
    "smo_solve",
    "squared_distances",
]
